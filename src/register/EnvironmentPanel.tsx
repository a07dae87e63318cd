/**
 * The register dialog's "Environment" section: what the version will record (Python,
 * packages, env vars kept and dropped as secrets, credential references, hardware,
 * working files) and, when the flow has a version already, what changed from it.
 */
import { Button, InputGroup } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import type { EnvironmentPreview } from '../api';
import { filterPackages, summarizeEnvironment } from './environment';

export interface IEnvironmentPanelProps {
  preview: EnvironmentPreview | null;
  error: string | null;
  retry: () => void;
}

export function EnvironmentPanel(props: IEnvironmentPanelProps): JSX.Element {
  const { preview, error, retry } = props;
  let body: JSX.Element;
  if (error) {
    body = (
      <div className="jp-FlowsField-error" role="alert">
        <p>{error}</p>
        <Button minimal small onClick={retry}>
          Capture again
        </Button>
      </div>
    );
  } else if (!preview) {
    body = (
      <p className="jp-FlowsRegister-reading" aria-busy="true">
        Capturing the environment…
      </p>
    );
  } else {
    body = <EnvironmentSummary preview={preview} />;
  }
  return (
    <section
      className="jp-FlowsRegister-env"
      aria-label="Environment"
      data-testid="resource-spec"
    >
      <h3 className="jp-FlowsField-label">
        Environment recorded with the version
      </h3>
      {body}
    </section>
  );
}

function EnvironmentSummary(props: {
  preview: EnvironmentPreview;
}): JSX.Element {
  const env = summarizeEnvironment(props.preview);
  const [filter, setFilter] = useState('');
  const shown = filterPackages(env.packages, filter);
  return (
    <>
      <dl className="jp-FlowsRegister-envList">
        <dt>Python</dt>
        <dd data-testid="env-python">
          {env.python}
          {env.kernelSpec ? ` (kernel ${env.kernelSpec})` : ''}, read from{' '}
          {env.source}
        </dd>
        <dt>Packages</dt>
        <dd>
          <details className="jp-FlowsRegister-packages">
            <summary data-testid="env-packages">
              {env.packages.length} packages, exact versions
            </summary>
            <InputGroup
              type="search"
              placeholder="Filter packages"
              aria-label="Filter packages"
              value={filter}
              onChange={e => setFilter((e.target as HTMLInputElement).value)}
            />
            <ul aria-label="Packages">
              {shown.map(p => (
                <li key={p.name}>
                  <span>{p.name}</span> <code>{p.version}</code>
                  {p.origin && (
                    <span className="jp-FlowsRegister-origin">
                      {' '}
                      ({p.origin})
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </details>
        </dd>
        <dt>Environment variables</dt>
        <dd>
          <details className="jp-FlowsRegister-packages">
            <summary data-testid="env-vars">
              {env.envKept.length} kept
              {env.envDropped.length > 0 &&
                `, ${env.envDropped.length} left out as secrets`}
            </summary>
            <ul aria-label="Environment variables kept">
              {env.envKept.map(name => (
                <li key={name}>
                  <code>{name}</code>
                </li>
              ))}
            </ul>
          </details>
          {env.envDropped.length > 0 && (
            <p className="jp-FlowsRegister-dropped" data-testid="env-dropped">
              Left out as secrets: {env.envDropped.join(', ')}. Store them as
              credentials (
              <code>jupyter flows credential add NAME --env VAR</code>) for runs
              to receive them.
            </p>
          )}
        </dd>
        <dt>Credentials</dt>
        <dd data-testid="env-credentials">
          {env.credentials.length
            ? env.credentials.join(', ')
            : 'none referenced'}
        </dd>
        <dt>Hardware</dt>
        <dd>{env.hardware}</dd>
        {env.workingFiles && (
          <>
            <dt>Working files</dt>
            <dd>{env.workingFiles}</dd>
          </>
        )}
      </dl>
      <EnvironmentDiff previous={env.previous} />
    </>
  );
}

function EnvironmentDiff(props: {
  previous: ReturnType<typeof summarizeEnvironment>['previous'];
}): JSX.Element {
  const { previous } = props;
  if (!previous) {
    return (
      <p className="jp-FlowsRegister-envDiff" data-testid="env-diff">
        A new flow: nothing to compare with.
      </p>
    );
  }
  if (!previous.changed) {
    return (
      <p className="jp-FlowsRegister-envDiff" data-testid="env-diff">
        Same environment as version {previous.versionNumber}.
      </p>
    );
  }
  return (
    <div className="jp-FlowsRegister-envDiff" data-testid="env-diff">
      <p>Changed since version {previous.versionNumber}:</p>
      <ul>
        {previous.changes.map((change, i) => (
          <li key={i}>{change}</li>
        ))}
      </ul>
    </div>
  );
}
