import React from 'react';

import type { State } from '../api';
import { localTime, stateLabel, stateTone } from '../states';

/** A run's state as a coloured badge; the colour comes from the theme (style/base.css). */
export function StateBadge(props: {
  state: State | null | undefined;
  compact?: boolean;
}): JSX.Element {
  const { state, compact } = props;
  const label = stateLabel(state);
  const title = state
    ? `${label} since ${localTime(state.timestamp)}${state.message ? `: ${state.message}` : ''}`
    : 'This flow has not run yet';
  return (
    <span
      className={`jp-FlowsBadge jp-mod-${stateTone(state?.type)}${compact ? ' jp-mod-compact' : ''}`}
      title={title}
      data-state={state?.type ?? 'NONE'}
    >
      {compact ? null : label}
    </span>
  );
}

/** A state dot followed by text, for dense rows. */
export function StateDot(props: {
  state: State | null | undefined;
}): JSX.Element {
  return <StateBadge state={props.state} compact />;
}
