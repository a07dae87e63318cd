import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import React from 'react';

import type { Deployment } from '../api';
import { IField } from './paramform';

export interface IRunFormProps {
  fields: IField[];
  values: Record<string, string>;
  /** Field name → message (the form's own checks, then the server's refusal). */
  errors: Record<string, string>;
  /** A refusal that names no field. */
  formError: string | null;
  deployments: Deployment[];
  deploymentId: string | null;
  busy: boolean;
  onDeployment: (id: string) => void;
  onChange: (name: string, text: string) => void;
  onSubmit: () => void;
  onCancel: () => void;
}

/** The parameter form: one widget per parameter type, errors on their fields. */
export function RunForm(props: IRunFormProps): JSX.Element {
  const { fields, values, errors, formError, deployments, deploymentId, busy } =
    props;
  return (
    <form
      className="jp-FlowsRunForm"
      aria-label="Run the flow"
      aria-busy={busy}
      noValidate
      onSubmit={event => {
        event.preventDefault();
        props.onSubmit();
      }}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          props.onCancel();
        }
      }}
    >
      {deployments.length > 1 && (
        <div className="jp-FlowsField">
          <label htmlFor="jp-flows-run-deployment">Deployment</label>
          <HTMLSelect
            id="jp-flows-run-deployment"
            value={deploymentId ?? ''}
            onChange={event => props.onDeployment(event.target.value)}
            options={deployments.map(d => ({
              value: d.id,
              label: `${d.name} (queue ${d.work_queue ?? '—'})`
            }))}
          />
        </div>
      )}
      {fields.length === 0 && (
        <p className="jp-FlowsRunForm-none">This flow takes no parameters.</p>
      )}
      {fields.map(field => (
        <FieldView
          key={field.name}
          field={field}
          text={values[field.name] ?? ''}
          error={errors[field.name]}
          onChange={text => props.onChange(field.name, text)}
        />
      ))}
      {formError && (
        <p
          className="jp-FlowsField-error"
          role="alert"
          data-testid="run-form-error"
        >
          {formError}
        </p>
      )}
      <div className="jp-FlowsRunForm-actions">
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject"
          onClick={props.onCancel}
        >
          Cancel
        </button>
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={busy}
        >
          {busy ? 'Starting…' : 'Start run'}
        </button>
      </div>
    </form>
  );
}

function FieldView(props: {
  field: IField;
  text: string;
  error: string | undefined;
  onChange: (text: string) => void;
}): JSX.Element {
  const { field, text, error, onChange } = props;
  const id = `jp-flows-param-${field.name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const common = {
    id,
    name: field.name,
    'aria-invalid': !!error,
    'aria-describedby': `${hintId}${error ? ` ${errorId}` : ''}`
  };
  const onInput = (
    event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>
  ) => onChange(event.target.value);
  let input: JSX.Element;
  switch (field.widget) {
    case 'boolean':
      input = (
        <input
          {...common}
          type="checkbox"
          className="jp-FlowsCheckbox"
          checked={text === 'true'}
          onChange={event => onChange(event.target.checked ? 'true' : 'false')}
        />
      );
      break;
    case 'choice':
      input = (
        <HTMLSelect
          {...common}
          value={text}
          onChange={event => onChange(event.target.value)}
          options={[
            ...(field.nullable || !field.hasDefault
              ? [{ value: '', label: '—' }]
              : []),
            ...field.options.map(option => ({
              value: JSON.stringify(option),
              label:
                typeof option === 'string' ? option : JSON.stringify(option)
            }))
          ]}
        />
      );
      break;
    case 'json':
      input = (
        <textarea
          {...common}
          className="jp-FlowsInput jp-FlowsRunForm-json"
          spellCheck={false}
          rows={Math.min(8, Math.max(2, text.split('\n').length))}
          value={text}
          onChange={onInput}
        />
      );
      break;
    default:
      input = (
        <InputGroup
          {...common}
          type={
            field.widget === 'integer' || field.widget === 'number'
              ? 'number'
              : field.widget === 'date'
                ? 'date'
                : field.widget === 'datetime'
                  ? 'datetime-local'
                  : field.widget === 'time'
                    ? 'time'
                    : 'text'
          }
          step={
            field.widget === 'integer'
              ? 1
              : field.widget === 'number'
                ? 'any'
                : undefined
          }
          placeholder={
            field.widget === 'list' ? 'values, comma-separated' : undefined
          }
          value={text}
          onChange={onInput}
        />
      );
  }
  return (
    <div
      className={`jp-FlowsField${error ? ' jp-mod-invalid' : ''}`}
      data-field={field.name}
    >
      <label htmlFor={id}>
        {field.name}
        {field.required && <span aria-hidden="true"> *</span>}
      </label>
      {input}
      <span id={hintId} className="jp-FlowsField-hint">
        {field.typeLabel}
        {field.description ? ` — ${field.description}` : ''}
      </span>
      {error && (
        <span id={errorId} className="jp-FlowsField-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
