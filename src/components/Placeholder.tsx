import { Button, LabIcon } from '@jupyterlab/ui-components';
import React from 'react';

/** The designed empty, loading and error states every view shares. */
export function Placeholder(props: {
  kind: 'empty' | 'loading' | 'error';
  title: string;
  children?: React.ReactNode;
  icon?: LabIcon;
  onRetry?: () => void;
  testId?: string;
}): JSX.Element {
  const { kind, title, children, icon, onRetry, testId } = props;
  return (
    <div
      className={`jp-FlowsPlaceholder jp-mod-${kind}`}
      role={kind === 'error' ? 'alert' : 'status'}
      aria-live="polite"
      data-testid={testId}
    >
      {kind === 'loading' ? (
        <div className="jp-FlowsPlaceholder-spinner" aria-hidden="true" />
      ) : icon ? (
        <icon.react className="jp-FlowsPlaceholder-icon" tag="div" />
      ) : null}
      <p className="jp-FlowsPlaceholder-title">{title}</p>
      {children ? (
        <div className="jp-FlowsPlaceholder-body">{children}</div>
      ) : null}
      {onRetry ? (
        <Button
          small
          minimal={false}
          onClick={onRetry}
          className="jp-FlowsPlaceholder-retry"
        >
          Try again
        </Button>
      ) : null}
    </div>
  );
}
