/**
 * What every model of the UI shares: one `Poll` (back-off on errors, standby while the
 * page is hidden), a `changed` signal, and a loading/ready/error status the views show.
 * The event stream makes the Poll a slow safety net: while the stream is open the Poll
 * runs every `slowInterval`, while it is down every `fastInterval`.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from '../errors';
import { EventStream, StreamStatus } from '../events';

export type LoadStatus = 'loading' | 'ready' | 'error';

export interface IPolledModelOptions {
  stream: EventStream;
  /** Poll period while the event stream is down (ms). */
  fastInterval?: number;
  /** Poll period while the event stream is up: only a safety net (ms). */
  slowInterval?: number;
}

export abstract class PolledModel implements IDisposable {
  constructor(options: IPolledModelOptions) {
    this.stream = options.stream;
    this._fast = options.fastInterval ?? 5000;
    this._slow = options.slowInterval ?? 60000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._refreshSafely(),
      frequency: { interval: this._interval(), backoff: true, max: 300000 },
      name: `jupyter-flows:${this.constructor.name}`,
      standby: 'when-hidden'
    });
    this.stream.statusChanged.connect(this._onStreamStatus, this);
    this.stream.missed.connect(this.refresh, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): LoadStatus {
    return this._status;
  }

  /** What went wrong on the last refresh (null when it worked). */
  get error(): string | null {
    return this._error;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Start polling (the first refresh happens at once). */
  start(): Promise<void> {
    void this._poll.start();
    return this._poll.tick.then(() => undefined);
  }

  /** Refresh now (coalesced with the Poll's own ticks). */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this.stream.statusChanged.disconnect(this._onStreamStatus, this);
    this.stream.missed.disconnect(this.refresh, this);
    Signal.clearData(this);
  }

  /** Fetch everything the model shows; throw to report an error. */
  protected abstract load(): Promise<void>;

  protected emitChanged(): void {
    this._changed.emit();
  }

  protected readonly stream: EventStream;

  private async _refreshSafely(): Promise<void> {
    try {
      await this.load();
      this._status = 'ready';
      this._error = null;
    } catch (reason) {
      // Keep what was shown; say what failed. Rethrow so the Poll backs off.
      this._status = this._status === 'loading' ? 'error' : this._status;
      this._error = describeError(reason);
      this._changed.emit();
      throw reason;
    }
    this._changed.emit();
  }

  private _interval(): number {
    return this.stream.status === 'open' ? this._slow : this._fast;
  }

  private _onStreamStatus(_: EventStream, status: StreamStatus): void {
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: this._interval()
    };
  }

  private _poll: Poll;
  private _fast: number;
  private _slow: number;
  private _status: LoadStatus = 'loading';
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}
