/** Pieces the operations panel's sections share: loading, fields, section frames. */
import { InputGroup } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { describeError } from '../../errors';

export interface ILoaded<T> {
  value: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** `load()` run when `deps` change (and on `reload`); the last answer wins. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: React.DependencyList
): ILoaded<T> {
  const [state, setState] = useState<{
    value: T | null;
    error: string | null;
    loading: boolean;
  }>({ value: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    setState(s => ({ ...s, loading: true }));
    load().then(
      value => {
        if (call === latest.current) {
          setState({ value, error: null, loading: false });
        }
      },
      reason => {
        if (call === latest.current) {
          setState(s => ({
            value: s.value,
            error: describeError(reason),
            loading: false
          }));
        }
      }
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick(t => t + 1), []);
  return { ...state, reload };
}

/** A labelled input with its hint and its error, wired for screen readers. */
export function Field(props: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  children: (aria: {
    id: string;
    'aria-invalid': boolean;
    'aria-describedby': string | undefined;
  }) => JSX.Element;
}): JSX.Element {
  const { id, label, hint, error } = props;
  const described =
    [hint ? `${id}-hint` : '', error ? `${id}-error` : '']
      .filter(Boolean)
      .join(' ') || undefined;
  return (
    <div
      className={`jp-FlowsField${error ? ' jp-mod-invalid' : ''}`}
      data-field={id}
    >
      <label htmlFor={id}>{label}</label>
      {props.children({
        id,
        'aria-invalid': !!error,
        'aria-describedby': described
      })}
      {hint && (
        <span id={`${id}-hint`} className="jp-FlowsField-hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="jp-FlowsField-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** A group of checkboxes (a fieldset with its legend), for events, states, destinations. */
export function CheckboxGroup<T extends string>(props: {
  id: string;
  legend: string;
  options: ReadonlyArray<{ value: T; label: string }>;
  selected: ReadonlyArray<T>;
  error?: string;
  onChange: (selected: T[]) => void;
}): JSX.Element {
  const { id, legend, options, selected, error } = props;
  return (
    <fieldset
      className={`jp-FlowsField jp-FlowsOps-checks${error ? ' jp-mod-invalid' : ''}`}
      aria-describedby={error ? `${id}-error` : undefined}
      data-field={id}
    >
      <legend>{legend}</legend>
      <div className="jp-FlowsOps-checkList">
        {options.map(option => (
          <label key={option.value} className="jp-FlowsOps-check">
            <input
              type="checkbox"
              className="jp-FlowsCheckbox"
              checked={selected.includes(option.value)}
              onChange={event =>
                props.onChange(
                  event.target.checked
                    ? [...selected, option.value]
                    : selected.filter(v => v !== option.value)
                )
              }
            />
            {option.label}
          </label>
        ))}
      </div>
      {error && (
        <span id={`${id}-error`} className="jp-FlowsField-error" role="alert">
          {error}
        </span>
      )}
    </fieldset>
  );
}

/** A section of the panel: a heading, what it is for, and its content. */
export function Section(props: {
  id: string;
  title: string;
  summary: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section
      className="jp-FlowsOps-section"
      aria-labelledby={`${props.id}-title`}
      data-section={props.id}
    >
      <h2 id={`${props.id}-title`} className="jp-FlowsOps-title">
        {props.title}
      </h2>
      <p className="jp-FlowsOps-summary">{props.summary}</p>
      {props.children}
    </section>
  );
}

/** A sub-heading inside a section. */
export function SubTitle(props: { children: React.ReactNode }): JSX.Element {
  return <h3 className="jp-FlowsOps-subtitle">{props.children}</h3>;
}

/** An inline loading line, or an error with a retry, for a part of a section. */
export function LoadState(props: {
  loaded: ILoaded<unknown>;
  what: string;
}): JSX.Element | null {
  const { loaded, what } = props;
  if (loaded.error) {
    return (
      <p className="jp-FlowsOps-state jp-mod-error" role="alert">
        {what} could not be loaded: {loaded.error}{' '}
        <button
          type="button"
          className="jp-FlowsOps-link"
          onClick={loaded.reload}
        >
          Try again
        </button>
      </p>
    );
  }
  if (loaded.loading && loaded.value === null) {
    return (
      <p className="jp-FlowsOps-state" role="status">
        Loading {what.toLowerCase()}…
      </p>
    );
  }
  return null;
}

/** A form's error that names no field. */
export function FormError(props: { error?: string }): JSX.Element | null {
  return props.error ? (
    <p className="jp-FlowsField-error" role="alert">
      {props.error}
    </p>
  ) : null;
}

/** A number input in a Field; ``onChange`` gets the text as typed (the forms parse it). */
export function NumberField(props: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  min: number;
  step: number | 'any';
  value: string;
  placeholder?: string;
  disabled?: boolean;
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <Field
      id={props.id}
      label={props.label}
      hint={props.hint}
      error={props.error}
    >
      {aria => (
        <InputGroup
          {...aria}
          type="number"
          min={props.min}
          step={props.step}
          placeholder={props.placeholder}
          disabled={props.disabled}
          value={props.value}
          onChange={event => props.onChange(event.target.value)}
        />
      )}
    </Field>
  );
}

/**
 * A section's form: validated by the forms (not the browser), submitted with Enter, and
 * closed with Escape when it can be.
 */
export function OpsForm(props: {
  label: string;
  onSubmit: () => void;
  onEscape?: () => void;
  autoComplete?: 'off';
  children: React.ReactNode;
}): JSX.Element {
  const { onEscape } = props;
  return (
    <form
      className="jp-FlowsOps-form"
      aria-label={props.label}
      noValidate
      autoComplete={props.autoComplete}
      onSubmit={event => {
        event.preventDefault();
        props.onSubmit();
      }}
      onKeyDown={
        onEscape
          ? event => {
              if (event.key === 'Escape') {
                onEscape();
              }
            }
          : undefined
      }
    >
      {props.children}
    </form>
  );
}

/** The end of an "Add …" form: its error, Cancel, and the button that adds. */
export function AddActions(props: {
  error?: string;
  busy: boolean;
  /** Also disabled while not busy (nothing to add to yet). */
  disabled?: boolean;
  label: string;
  onCancel: () => void;
}): JSX.Element {
  return (
    <>
      <FormError error={props.error} />
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
          disabled={props.busy || props.disabled}
        >
          {props.busy ? 'Adding…' : props.label}
        </button>
      </div>
    </>
  );
}
