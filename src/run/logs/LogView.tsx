/**
 * The run's logs: flow, task, agent and job lines in one virtualised list (only the rows
 * on screen exist; pages come from the server as they scroll into view), a source and
 * level filter and a search the server answers, matches highlighted with next/previous,
 * follow mode, local-time stamps, and downloads of the whole log as text or JSON lines.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import React from 'react';

import type { LogLine } from '../../api';
import { LOG_SOURCES, LogSource, RunModel } from '../model';
import {
  LogCursor,
  levelName,
  localClock,
  localStamp,
  sourceOf
} from './cursor';

const ROW_HEIGHT = 18;
const LEVELS: [number, string][] = [
  [0, 'All levels'],
  [10, 'Debug+'],
  [20, 'Info+'],
  [30, 'Warning+'],
  [40, 'Error+']
];

export interface ILogViewProps {
  model: RunModel;
  downloadUrl: (format: 'text' | 'jsonl') => string;
}

function useCursor(model: RunModel): LogCursor {
  const [cursor, setCursor] = React.useState(model.logs);
  const [, tick] = React.useReducer((n: number) => n + 1, 0);
  React.useEffect(() => {
    const onReset = (_: RunModel, next: LogCursor) => setCursor(next);
    model.logsReset.connect(onReset);
    return () => {
      model.logsReset.disconnect(onReset);
    };
  }, [model]);
  React.useEffect(() => {
    cursor.changed.connect(tick);
    tick();
    return () => {
      cursor.changed.disconnect(tick);
    };
  }, [cursor]);
  return cursor;
}

export function LogView(props: ILogViewProps): JSX.Element {
  const { model } = props;
  const cursor = useCursor(model);
  const filter = model.logFilter;
  const scroller = React.useRef<HTMLDivElement>(null);
  const [follow, setFollow] = React.useState(true);
  const [search, setSearch] = React.useState(filter.q);
  const [current, setCurrent] = React.useState(-1);
  const total = cursor.total;

  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 30
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;

  React.useEffect(() => {
    // Following, the view is about to scroll to the end (loaded already): the rows the
    // list shows for a moment before it does are not worth a request.
    if (total && !(follow && last < total - 1)) {
      void cursor.ensure(first, last + 1).catch(() => undefined);
    }
  }, [cursor, first, last, total, follow]);

  React.useEffect(() => {
    if (follow && total) {
      virtualizer.scrollToIndex(total - 1, { align: 'end' });
    }
  }, [follow, total, virtualizer]);

  // The search goes to the server a moment after typing stops.
  React.useEffect(() => {
    if (search === filter.q) {
      return;
    }
    const timer = setTimeout(() => {
      setCurrent(-1);
      model.setLogFilter({ q: search });
    }, 250);
    return () => clearTimeout(timer);
  }, [search, filter.q, model]);

  const go = (step: number) => {
    if (!total) {
      return;
    }
    setFollow(false);
    const next = (current + step + total) % total;
    setCurrent(next);
    virtualizer.scrollToIndex(next, { align: 'center' });
  };

  const toggleSource = (source: LogSource) => {
    const sources = filter.sources.includes(source)
      ? filter.sources.filter(s => s !== source)
      : [...filter.sources, source];
    model.setLogFilter({
      sources: sources.length ? sources : [...LOG_SOURCES]
    });
  };

  return (
    <div className="jp-RunLogs">
      <div
        className="jp-RunLogs-toolbar"
        role="toolbar"
        aria-label="Log filters"
      >
        <fieldset className="jp-RunLogs-sources">
          <legend className="jp-RunView-sr">Sources</legend>
          {LOG_SOURCES.map(source => (
            <label key={source}>
              <input
                type="checkbox"
                checked={filter.sources.includes(source)}
                onChange={() => toggleSource(source)}
              />
              {source}
            </label>
          ))}
        </fieldset>
        <select
          aria-label="Lowest level"
          className="jp-RunLogs-level"
          value={filter.level}
          onChange={event =>
            model.setLogFilter({ level: Number(event.target.value) })
          }
        >
          {LEVELS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <input
          type="search"
          className="jp-RunLogs-search"
          placeholder="Search logs"
          aria-label="Search logs"
          value={search}
          onChange={event => setSearch(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter') {
              event.preventDefault();
              go(event.shiftKey ? -1 : 1);
            }
          }}
        />
        {filter.q ? (
          <span className="jp-RunLogs-matches" aria-live="polite">
            {total
              ? `${current >= 0 ? current + 1 : '–'} / ${total}`
              : 'no match'}
          </span>
        ) : null}
        <button
          type="button"
          className="jp-RunView-button"
          aria-label="Previous match"
          title="Previous match (Shift+Enter)"
          disabled={!filter.q || !total}
          onClick={() => go(-1)}
        >
          ↑
        </button>
        <button
          type="button"
          className="jp-RunView-button"
          aria-label="Next match"
          title="Next match (Enter)"
          disabled={!filter.q || !total}
          onClick={() => go(1)}
        >
          ↓
        </button>
        <label className="jp-RunLogs-follow">
          <input
            type="checkbox"
            checked={follow}
            onChange={event => setFollow(event.target.checked)}
          />
          Follow
        </label>
        <span className="jp-RunLogs-spacer" />
        <a
          className="jp-RunView-button"
          href={props.downloadUrl('text')}
          download
        >
          Download .log
        </a>
        <a
          className="jp-RunView-button"
          href={props.downloadUrl('jsonl')}
          download
        >
          .jsonl
        </a>
      </div>
      <div
        ref={scroller}
        className="jp-RunLogs-lines"
        role="log"
        aria-label="Run log"
        data-total={total}
        onWheel={event => {
          if (event.deltaY < 0) {
            setFollow(false);
          }
        }}
      >
        {cursor.started && !total ? (
          <div className="jp-RunLogs-empty">
            {filter.q || filter.level || filter.sources.length < 4
              ? 'No lines match.'
              : 'No log lines yet.'}
          </div>
        ) : null}
        {cursor.error ? (
          <div className="jp-RunLogs-empty">{cursor.error}</div>
        ) : null}
        <div
          style={{ height: virtualizer.getTotalSize(), position: 'relative' }}
        >
          {items.map(item => (
            <Row
              key={item.key}
              line={cursor.line(item.index)}
              index={item.index}
              top={item.start}
              q={filter.q}
              current={item.index === current}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

function Row(props: {
  line: LogLine | undefined;
  index: number;
  top: number;
  q: string;
  current: boolean;
}): JSX.Element {
  const { line, top, q, current } = props;
  const style: React.CSSProperties = {
    position: 'absolute',
    top: 0,
    left: 0,
    right: 0,
    height: ROW_HEIGHT,
    transform: `translateY(${top}px)`
  };
  if (!line) {
    return (
      <div className="jp-RunLogs-line jp-mod-loading" style={style}>
        …
      </div>
    );
  }
  const level = levelName(line.level);
  return (
    <div
      className={`jp-RunLogs-line jp-mod-${level.toLowerCase()}${current ? ' jp-mod-current' : ''}`}
      style={style}
      data-index={props.index}
      title={line.message}
    >
      <time dateTime={line.timestamp} title={localStamp(line.timestamp)}>
        {localClock(line.timestamp)}
      </time>
      <span className="jp-RunLogs-lvl">{level}</span>
      <span className="jp-RunLogs-src">{sourceOf(line)}</span>
      <span className="jp-RunLogs-msg">{highlight(line.message, q)}</span>
    </div>
  );
}

/** `text` with every case-insensitive occurrence of `q` in a <mark>. */
export function highlight(text: string, q: string): React.ReactNode {
  if (!q) {
    return text;
  }
  const parts: React.ReactNode[] = [];
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  let from = 0;
  let at = lower.indexOf(needle);
  while (at >= 0) {
    parts.push(text.slice(from, at));
    parts.push(<mark key={at}>{text.slice(at, at + q.length)}</mark>);
    from = at + q.length;
    at = lower.indexOf(needle, from);
  }
  parts.push(text.slice(from));
  return parts;
}
