/**
 * The server's event stream (`GET api/flows/events`, a WebSocket) as a Signal.
 *
 * One stream per client, shared by every model. It reconnects with a capped back-off;
 * `connectionChanged` tells models when to lean on their Poll instead (while the stream
 * is down) and when to refresh once (after a reconnect or a `lagged` message, since
 * events were missed).
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { FlowEvent } from './api';

export type StreamStatus = 'connecting' | 'open' | 'closed';

/** What the stream needs to open a socket; injected so it can be tested alone. */
export type SocketFactory = (url: string) => WebSocket;

export class EventStream implements IDisposable {
  constructor(
    private readonly url: () => string,
    private readonly makeSocket: SocketFactory = url => new WebSocket(url)
  ) {}

  /** Every event the server sends (but `subscribed`). */
  get received(): ISignal<this, FlowEvent> {
    return this._received;
  }

  /** The stream opened or closed; on `open` after a gap, listeners should refresh. */
  get statusChanged(): ISignal<this, StreamStatus> {
    return this._statusChanged;
  }

  /** Events were lost (a reconnect, or the server dropped some): refresh from the API. */
  get missed(): ISignal<this, void> {
    return this._missed;
  }

  get status(): StreamStatus {
    return this._status;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Open the socket (idempotent). */
  start(): void {
    if (this._disposed || this._socket) {
      return;
    }
    this._setStatus('connecting');
    let socket: WebSocket;
    try {
      socket = this.makeSocket(this.url());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onmessage = msg => this._onMessage(msg.data);
    socket.onclose = () => {
      this._socket = null;
      this._setStatus('closed');
      this._scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows; nothing to add (the browser logs nothing for a failed socket).
    };
  }

  /** Close and open again, e.g. after the connection settings changed. */
  restart(): void {
    this._close();
    this._attempt = 0;
    this.start();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._close();
    Signal.clearData(this);
  }

  private _close(): void {
    clearTimeout(this._timer);
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
    }
  }

  private _onMessage(data: unknown): void {
    let event: FlowEvent;
    try {
      event = JSON.parse(String(data));
    } catch {
      return;
    }
    if (event.type === 'subscribed') {
      const reconnected = this._everOpen;
      this._everOpen = true;
      this._attempt = 0;
      this._setStatus('open');
      if (reconnected) {
        this._missed.emit();
      }
      return;
    }
    if (event.type === 'lagged') {
      this._missed.emit();
      return;
    }
    this._received.emit(event);
  }

  private _scheduleReconnect(): void {
    if (this._disposed) {
      return;
    }
    const delay = Math.min(30000, 1000 * 2 ** this._attempt);
    this._attempt += 1;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.start(), delay);
  }

  private _setStatus(status: StreamStatus): void {
    if (status !== this._status) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _socket: WebSocket | null = null;
  private _status: StreamStatus = 'closed';
  private _attempt = 0;
  private _everOpen = false;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _disposed = false;
  private _received = new Signal<this, FlowEvent>(this);
  private _statusChanged = new Signal<this, StreamStatus>(this);
  private _missed = new Signal<this, void>(this);
}
