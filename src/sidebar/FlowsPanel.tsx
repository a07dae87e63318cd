import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { FlowsAPIError, IVersionInfo } from '../api';
import { flowIcon } from '../icons';

/** The id of the sidebar widget (also the `data-id` of its tab). */
export const PANEL_ID = 'jupyter-flows-panel';

/** What the panel needs from the outside world; injected so it can be tested alone. */
export interface IFlowsPanelOptions {
  fetchVersion: () => Promise<IVersionInfo>;
}

type ServerStatus =
  | { kind: 'loading' }
  | { kind: 'ok'; version: string }
  | { kind: 'error'; message: string };

function describeError(reason: unknown): string {
  if (reason instanceof FlowsAPIError) {
    return `${reason.error}: ${reason.message}`;
  }
  return reason instanceof Error ? reason.message : String(reason);
}

/** The sidebar's content: the flows list (empty for now) and the server footer. */
export function FlowsSidebar(props: IFlowsPanelOptions): JSX.Element {
  const [status, setStatus] = useState<ServerStatus>({ kind: 'loading' });

  useEffect(() => {
    let live = true;
    props
      .fetchVersion()
      .then(info => live && setStatus({ kind: 'ok', version: info.version }))
      .catch(
        reason =>
          live && setStatus({ kind: 'error', message: describeError(reason) })
      );
    return () => {
      live = false;
    };
  }, [props.fetchVersion]);

  return (
    <div className="jp-FlowsPanel">
      <header className="jp-FlowsPanel-header">Flows</header>
      <div className="jp-FlowsPanel-empty" data-testid="flows-empty">
        <flowIcon.react className="jp-FlowsPanel-emptyIcon" tag="div" />
        <p className="jp-FlowsPanel-emptyTitle">No flows yet</p>
        <p className="jp-FlowsPanel-emptyHint">
          Flows made from your notebooks, cells and scripts will be listed here.
        </p>
      </div>
      <footer className="jp-FlowsPanel-footer" data-testid="flows-server">
        {status.kind === 'loading' && <span>Connecting to server…</span>}
        {status.kind === 'ok' && (
          <span className="jp-FlowsPanel-version">
            jupyter-flows server {status.version}
          </span>
        )}
        {status.kind === 'error' && (
          <span className="jp-FlowsPanel-error" title={status.message}>
            Server unavailable ({status.message})
          </span>
        )}
      </footer>
    </div>
  );
}

/** The left-sidebar widget. */
export class FlowsPanel extends ReactWidget {
  constructor(private readonly options: IFlowsPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-FlowsPanel-widget');
    this.title.icon = flowIcon;
    this.title.caption = 'Flows';
  }

  protected render(): JSX.Element {
    return <FlowsSidebar fetchVersion={this.options.fetchVersion} />;
  }
}
