// The same document over HTTP, for drafting between sessions on the case page: every 2 s
// while the page is visible (and soon after a local edit) our state vector goes to
// `GET /draft`, which answers what we lack and the server's state vector; what the server
// lacks is then posted. One exchange at a time, so edits are never sent twice at once.

import * as Y from 'yjs';
import { Emitter } from '../emitter';
import { fromBase64, toBase64 } from './base64';
import { REMOTE, aheadOf } from './sync';

export const POLL_MS = 2_000;
/** A local edit is sent this soon: fast enough to feel saved, slow enough to batch typing. */
export const EDIT_DELAY_MS = 300;

export interface DraftState {
  doc: string;
  update: string;
  state_vector: string;
  seq: number;
}

export interface DraftHttp {
  get(doc: string, stateVector: string): Promise<DraftState>;
  post(doc: string, update: string): Promise<{ seq: number }>;
}

export interface HttpSyncEvents {
  synced: undefined;
  progress: undefined;
  problem: { error: unknown };
}

export class HttpDraftSync extends Emitter<HttpSyncEvents> {
  readonly doc = new Y.Doc();
  seq = 0;
  synced = false;
  /** Local edits since the last successful post (deletions included, which vectors miss). */
  private edits = 0;
  private busy = false;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    readonly docName: string,
    private readonly http: DraftHttp,
    private readonly visible: () => boolean = () => document.visibilityState === 'visible',
    /** False once the page showing the draft is gone: polling stops for good. */
    private readonly alive: () => boolean = () => true,
  ) {
    super();
    this.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return;
      this.edits++;
      this.emit('progress', undefined);
      this.plan(EDIT_DELAY_MS);
    });
  }

  get pending(): number {
    return this.edits > 0 ? 1 : 0;
  }

  start(): void {
    this.stopped = false;
    void this.exchange();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private plan(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.alive()) {
        this.stop();
        return;
      }
      // A hidden page stops polling but still saves what was typed.
      if (this.visible() || this.edits > 0) void this.exchange();
      else this.plan(POLL_MS);
    }, ms);
  }

  /** One round: fetch what we lack, send what the server lacks. */
  async exchange(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      const state = await this.http.get(this.docName, toBase64(Y.encodeStateVector(this.doc)));
      const bytes = fromBase64(state.update);
      if (bytes.length > 0) Y.applyUpdate(this.doc, bytes, REMOTE);
      this.seq = state.seq;
      const first = !this.synced;
      this.synced = true;
      const serverVector = state.state_vector ? fromBase64(state.state_vector) : undefined;
      const editsBefore = this.edits;
      if (editsBefore > 0 || (serverVector && aheadOf(Y.encodeStateVector(this.doc), serverVector))) {
        const answer = await this.http.post(this.docName, toBase64(Y.encodeStateAsUpdate(this.doc, serverVector)));
        this.seq = Math.max(this.seq, answer.seq);
        // Edits typed while the post was on its way are not in it.
        this.edits -= editsBefore;
      }
      if (first || bytes.length > 2) this.emit('synced', undefined);
      this.emit('progress', undefined);
    } catch (error) {
      this.emit('problem', { error });
    } finally {
      this.busy = false;
    }
    if (this.again) {
      this.again = false;
      this.plan(0);
    } else this.plan(POLL_MS);
  }
}
