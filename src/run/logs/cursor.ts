/**
 * The paged log cursor: a run's log as a sparse list the view reads by index. It starts
 * at the end (the server's `tail`: the last lines and where they sit, read from its index
 * without skipping the rest), since that is what a view following a run shows first; the
 * other pages are fetched by offset as the view scrolls to them (the server gives the
 * total, so the list has its full height at once); new lines of a live run are fetched
 * from the server's cursor after the last line known, never by reloading. Nothing here talks to the network
 * itself: `fetch` does (the run model passes the client's).
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { LogLine, LogPage } from '../../api';

export interface ILogPageRequest {
  limit: number;
  offset?: number;
  cursor?: string;
  /** The last `limit` lines; the answer's offset says where they start. */
  tail?: boolean;
}

export type LogFetcher = (request: ILogPageRequest) => Promise<LogPage>;

export class LogCursor {
  constructor(
    private readonly fetch: LogFetcher,
    readonly pageSize = 500
  ) {}

  /** Lines arrived or the total moved. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** How many lines the filter selects on the server (as of the last answer). */
  get total(): number {
    return this._total;
  }

  /** Whether the end of the log has been answered. */
  get started(): boolean {
    return this._started;
  }

  get error(): string | null {
    return this._error;
  }

  /** The line at `index`, or undefined while its page is not loaded. */
  line(index: number): LogLine | undefined {
    return this._lines[index];
  }

  /** The lines loaded in [start, end), gaps skipped (for search and download). */
  loaded(start = 0, end = this._total): LogLine[] {
    return this._lines.slice(start, end).filter(Boolean) as LogLine[];
  }

  /** Load the end of the log (and the total). */
  start(): Promise<void> {
    this._starting ??= this._loadTail().then(
      () => {
        this._started = true;
        this._changed.emit();
      },
      reason => {
        this._starting = null; // the next ask tries again
        throw reason;
      }
    );
    return this._starting;
  }

  /** Make sure lines [start, end) are loaded, fetching the pages that are missing. */
  async ensure(start: number, end: number): Promise<void> {
    const first = Math.max(0, Math.floor(start / this.pageSize));
    const last = Math.floor(Math.max(start, end - 1) / this.pageSize);
    const wanted: Promise<void>[] = [];
    for (let page = first; page <= last; page++) {
      if (page * this.pageSize < Math.max(this._total, 1)) {
        wanted.push(this._loadPage(page));
      }
    }
    await Promise.all(wanted);
  }

  /**
   * Fetch the lines that arrived after the last one known (a live run). Coalesced: calls
   * while one is in flight make one more afterwards.
   */
  async tail(): Promise<void> {
    if (this._tailing) {
      this._tailAgain = true;
      return this._tailing;
    }
    this._tailing = this._tailOnce().finally(() => {
      this._tailing = null;
      if (this._tailAgain) {
        this._tailAgain = false;
        void this.tail();
      }
    });
    return this._tailing;
  }

  private async _tailOnce(): Promise<void> {
    if (!this._started) {
      // Lines that arrive while the end loads are not in it: fetch them after it.
      await this.start();
    }
    if (!this._tailCursor) {
      // The log was empty (no cursor yet): read its end again.
      await this._loadTail();
      this._changed.emit();
      return;
    }
    const answer = await this.fetch({
      limit: this.pageSize,
      cursor: this._tailCursor
    });
    const at = this._known;
    answer.items.forEach((line, i) => (this._lines[at + i] = line));
    this._known = at + answer.items.length;
    this._total = Math.max(answer.total, this._known);
    this._tailCursor = answer.next_cursor ?? this._tailCursor;
    if (answer.items.length) {
      this._changed.emit();
    }
    if (answer.items.length === this.pageSize) {
      this._tailAgain = true;
    }
  }

  /**
   * The last page's worth of lines: the last page (never longer) is then whole, so it
   * counts as loaded and scrolling to the end fetches nothing more.
   */
  private async _loadTail(): Promise<void> {
    let answer: LogPage;
    try {
      answer = await this.fetch({ limit: this.pageSize, tail: true });
    } catch (reason) {
      this._error = reason instanceof Error ? reason.message : String(reason);
      this._changed.emit();
      throw reason;
    }
    const offset = answer.offset;
    answer.items.forEach((line, i) => (this._lines[offset + i] = line));
    this._total = Math.max(answer.total, offset + answer.items.length);
    this._known = offset + answer.items.length;
    this._tailCursor = answer.next_cursor ?? this._tailCursor;
    this._error = null;
    const whole = Promise.resolve();
    for (
      let page = Math.ceil(offset / this.pageSize);
      page * this.pageSize < this._known;
      page++
    ) {
      this._pages.set(page, whole);
    }
    this._changed.emit();
  }

  private _loadPage(page: number): Promise<void> {
    const pending = this._pages.get(page);
    if (pending) {
      return pending;
    }
    const offset = page * this.pageSize;
    const loading = this.fetch({ limit: this.pageSize, offset })
      .then(answer => {
        answer.items.forEach((line, i) => (this._lines[offset + i] = line));
        this._total = answer.total;
        this._error = null;
        const end = offset + answer.items.length;
        if (end >= answer.total) {
          // This page reaches the end: follow from here by cursor.
          this._known = end;
          this._tailCursor = answer.next_cursor ?? this._tailCursor;
        }
        this._changed.emit();
      })
      .catch(reason => {
        this._pages.delete(page);
        this._error = reason instanceof Error ? reason.message : String(reason);
        this._changed.emit();
        throw reason;
      });
    this._pages.set(page, loading);
    return loading;
  }

  private _lines: (LogLine | undefined)[] = [];
  private _pages = new Map<number, Promise<void>>();
  private _total = 0;
  private _known = 0;
  private _started = false;
  private _starting: Promise<void> | null = null;
  private _error: string | null = null;
  private _tailCursor: string | null = null;
  private _tailing: Promise<void> | null = null;
  private _tailAgain = false;
  private _changed = new Signal<this, void>(this);
}

/** Where a line came from, as the server's source filter tells them apart. */
export function sourceOf(line: LogLine): 'flow' | 'task' | 'agent' | 'job' {
  if (line.name === 'jupyter_flows.job') {
    return 'job';
  }
  if (
    line.name === 'jupyter_flows.agent' ||
    line.name.startsWith('jupyter_flows.agent.')
  ) {
    return 'agent';
  }
  return line.task_run_id ? 'task' : 'flow';
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'DEBUG',
  20: 'INFO',
  30: 'WARNING',
  40: 'ERROR',
  50: 'CRITICAL'
};

export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? `L${level}`;
}

/** A line as the text download writes it, the time in the user's zone. */
export function lineText(line: LogLine): string {
  return `${localStamp(line.timestamp)} ${levelName(line.level).padEnd(8)} ${line.name || '-'} | ${line.message}`;
}

/** `2026-12-03 14:05:09.123` in the user's time zone. */
export function localStamp(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
  );
}

/** `14:05:09.123`: the time of day in the user's zone (the date in a tooltip). */
export function localClock(iso: string): string {
  return localStamp(iso).slice(11);
}
