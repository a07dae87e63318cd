import {
  HTMLSelect,
  InputGroup,
  ReactWidget,
  UseSignal
} from '@jupyterlab/ui-components';
import { useVirtualizer } from '@tanstack/react-virtual';
import React, { useRef, useState } from 'react';

import { StateBadge } from '../components/StateBadge';
import { Placeholder } from '../components/Placeholder';
import { flowIcon } from '../icons';
import { FlowsModel, IFlowRow, StateFilter } from '../models/flows';
import { STATE_TYPES, localTime, relativeTime, typeLabel } from '../states';

export interface IFlowListActions {
  openFlow: (row: IFlowRow) => void;
  /** Open the file browser so a notebook can be registered (the empty state's help). */
  showFileBrowser: () => void;
}

const ROW_HEIGHT = 44;

/** Every flow: searchable, filterable by its last run's state and by tag, virtualized. */
export class FlowListSection extends ReactWidget {
  constructor(
    private readonly model: FlowsModel,
    private readonly actions: IFlowListActions
  ) {
    super();
    this.addClass('jp-FlowsList');
    this.title.label = 'Flows';
    this.title.caption = 'Registered flows and their last runs';
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <FlowListView model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}

function FlowListView(props: {
  model: FlowsModel;
  actions: IFlowListActions;
}): JSX.Element {
  const { model, actions } = props;
  if (model.status === 'loading') {
    return (
      <Placeholder
        kind="loading"
        title="Loading flows…"
        testId="flows-loading"
      />
    );
  }
  if (model.status === 'error') {
    return (
      <Placeholder
        kind="error"
        title="Flows could not be loaded"
        onRetry={() => void model.refresh()}
        testId="flows-error"
      >
        {model.error}
      </Placeholder>
    );
  }
  if (model.rows.length === 0) {
    return (
      <Placeholder
        kind="empty"
        title="No flows yet"
        icon={flowIcon}
        testId="flows-empty"
      >
        <p>
          Right-click a notebook or a Python file in the file browser and choose{' '}
          <strong>Register as Flow</strong>; it will be listed here.
        </p>
        <button
          className="jp-FlowsLinkButton"
          onClick={actions.showFileBrowser}
        >
          Open the file browser
        </button>
      </Placeholder>
    );
  }
  return (
    <>
      <FilterBar model={model} />
      <VirtualRows model={model} actions={actions} />
    </>
  );
}

function FilterBar(props: { model: FlowsModel }): JSX.Element {
  const { model } = props;
  const filter = model.filter;
  const tags = model.tags;
  return (
    <div className="jp-FlowsList-filters" role="search">
      <InputGroup
        type="search"
        className="jp-FlowsList-search"
        placeholder="Search flows"
        aria-label="Search flows by name or project"
        value={filter.text}
        rightIcon="ui-components:search"
        onChange={event =>
          (model.filter = {
            ...filter,
            text: (event.target as HTMLInputElement).value
          })
        }
      />
      <div className="jp-FlowsList-selects">
        <HTMLSelect
          aria-label="Filter by last run state"
          value={filter.states[0] ?? ''}
          onChange={event => {
            const value = event.target.value as StateFilter | '';
            model.filter = { ...filter, states: value ? [value] : [] };
          }}
          options={[
            { value: '', label: 'Any state' },
            ...STATE_TYPES.map(type => ({
              value: type,
              label: typeLabel(type)
            })),
            { value: 'NONE', label: 'Never ran' }
          ]}
        />
        {tags.length > 0 && (
          <HTMLSelect
            aria-label="Filter by tag"
            value={filter.tag ?? ''}
            onChange={event =>
              (model.filter = { ...filter, tag: event.target.value || null })
            }
            options={[
              { value: '', label: 'Any tag' },
              ...tags.map(tag => ({ value: tag, label: tag }))
            ]}
          />
        )}
      </div>
    </div>
  );
}

function VirtualRows(props: {
  model: FlowsModel;
  actions: IFlowListActions;
}): JSX.Element {
  const { model, actions } = props;
  const rows = model.visibleRows;
  const parent = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8
  });
  const current = Math.min(active, rows.length - 1);

  const onKeyDown = (event: React.KeyboardEvent) => {
    let next = current;
    switch (event.key) {
      case 'ArrowDown':
        next = Math.min(rows.length - 1, current + 1);
        break;
      case 'ArrowUp':
        next = Math.max(0, current - 1);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = rows.length - 1;
        break;
      case 'Enter':
      case ' ':
        if (rows[current]) {
          actions.openFlow(rows[current]);
        }
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    setActive(next);
    virtualizer.scrollToIndex(next);
  };

  if (rows.length === 0) {
    return (
      <Placeholder kind="empty" title="No flow matches" testId="flows-no-match">
        <button
          className="jp-FlowsLinkButton"
          onClick={() => (model.filter = { text: '', states: [], tag: null })}
        >
          Clear the filters
        </button>
      </Placeholder>
    );
  }

  return (
    <div
      ref={parent}
      className="jp-FlowsList-scroll"
      role="listbox"
      tabIndex={0}
      aria-label={`Flows, ${rows.length} shown`}
      aria-activedescendant={
        rows[current] ? `jp-flow-${rows[current].flow.id}` : undefined
      }
      onKeyDown={onKeyDown}
      data-testid="flows-list"
    >
      <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map(item => {
          const row = rows[item.index];
          return (
            <FlowRowView
              key={row.flow.id}
              row={row}
              active={item.index === current}
              top={item.start}
              onOpen={() => {
                setActive(item.index);
                actions.openFlow(row);
              }}
            />
          );
        })}
      </div>
    </div>
  );
}

function FlowRowView(props: {
  row: IFlowRow;
  active: boolean;
  top: number;
  onOpen: () => void;
}): JSX.Element {
  const { row, active, top, onOpen } = props;
  const { flow, lastRun, nextRunAt } = row;
  const when = lastRun?.start_time ?? lastRun?.state?.timestamp ?? null;
  return (
    <div
      id={`jp-flow-${flow.id}`}
      role="option"
      aria-selected={active}
      className={`jp-FlowsList-row${active ? ' jp-mod-active' : ''}`}
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      onClick={onOpen}
      data-flow-name={flow.name}
      title={`${flow.name} (version ${flow.latest_version_number ?? '—'})`}
    >
      <div className="jp-FlowsList-line">
        <span className="jp-FlowsList-name">{flow.name}</span>
        <StateBadge state={lastRun?.state} />
      </div>
      <div className="jp-FlowsList-meta">
        <span title={when ? `Last run ${localTime(when)}` : undefined}>
          {lastRun ? `ran ${relativeTime(when)}` : 'never ran'}
        </span>
        {nextRunAt && (
          <span
            className="jp-FlowsList-next"
            title={`Next scheduled run ${localTime(nextRunAt)}`}
          >
            next {relativeTime(nextRunAt)}
          </span>
        )}
        {flow.project !== 'default' && (
          <span className="jp-FlowsList-project">{flow.project}</span>
        )}
      </div>
    </div>
  );
}
