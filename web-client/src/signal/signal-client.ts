// The WebSocket and its frames, nothing else: it knows no peer connection and no room. One
// instance per socket; the engine makes a new one for every reconnect attempt.

import { Emitter } from '../emitter';
import { type ClientMessage, parseServerMessage, type ServerMessage } from './messages';

/** A socket that has not answered a ping for this long is dead even if the OS says otherwise. */
const PING_INTERVAL_MS = 5_000;
const PONG_TIMEOUT_MS = 12_000;

export interface SignalEvents {
  message: ServerMessage;
  /** The socket is gone; `wasClean` is true only after our own `close()`. */
  closed: { code: number; reason: string; byUs: boolean };
}

export class SignalClient extends Emitter<SignalEvents> {
  private socket: WebSocket | null = null;
  private nextRequestId = 1;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private closedByUs = false;

  constructor(private readonly url: string) {
    super();
  }

  /** Opens the socket; rejects if it cannot be opened within `timeoutMs`. */
  connect(timeoutMs = 8_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      const timer = setTimeout(() => {
        reject(new Error('WebSocket open timed out'));
        socket.close();
      }, timeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        this.lastHeard = Date.now();
        this.pingTimer = setInterval(() => this.keepAlive(), PING_INTERVAL_MS);
        resolve();
      };
      socket.onmessage = (ev) => {
        this.lastHeard = Date.now();
        const message = parseServerMessage(String(ev.data));
        if (message) this.emit('message', message);
      };
      socket.onerror = () => {
        clearTimeout(timer);
        reject(new Error('WebSocket failed'));
      };
      socket.onclose = (ev) => {
        clearTimeout(timer);
        clearInterval(this.pingTimer);
        reject(new Error(`WebSocket closed (${ev.code})`));
        this.emit('closed', { code: ev.code, reason: ev.reason, byUs: this.closedByUs });
      };
    });
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame with a fresh request id; returns the id, or null if the socket is not open. */
  send(message: ClientMessage): string | null {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return null;
    const request_id = `${message.type}-${this.nextRequestId++}`;
    this.socket.send(JSON.stringify({ ...message, request_id }));
    return request_id;
  }

  close(): void {
    this.closedByUs = true;
    clearInterval(this.pingTimer);
    this.socket?.close();
  }

  /**
   * Gives the socket up as a network failure would, and reports it closed at once (the engine
   * then reconnects). Not left to `onclose`: on a dead network the closing handshake never
   * completes, and Chromium fires `onclose` only after its one-minute handshake timeout.
   */
  drop(): void {
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    clearInterval(this.pingTimer);
    socket.onmessage = null;
    socket.onclose = null;
    socket.close(4000, 'dropped');
    this.emit('closed', { code: 4000, reason: 'dropped', byUs: false });
  }

  private keepAlive(): void {
    if (Date.now() - this.lastHeard > PONG_TIMEOUT_MS) {
      // Weak 4G often leaves a half-open TCP connection: treat silence as a drop.
      this.drop();
      return;
    }
    this.send({ type: 'ping' });
  }
}
