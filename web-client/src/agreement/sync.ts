// Keeps a Y.Doc in step with the server's copy over the session's WebSocket (draft_* frames).
//
// The server is the one copy that counts: local edits are batched (~50 ms) into one
// `draft_update` and stay pending until its `draft_ack` says it is stored. After a reconnect,
// or a refusal to store, `draft_open` with our state vector brings what we lack and the
// server's state vector; everything it lacks is sent again from that, so edits made offline
// are never lost and nothing depends on which of our frames arrived before the drop.

import * as Y from 'yjs';
import { Emitter } from '../emitter';
import { fromBase64, toBase64 } from './base64';

/** Local edits, as the sync's transactions are marked; the binding skips its own. */
export const LOCAL = Symbol('local-edit');
/** Edits that came from the server: never sent back. */
export const REMOTE = Symbol('remote-edit');

/** Merging every this often keeps frames few when someone types fast. */
export const BATCH_MS = 50;
/**
 * Unacknowledged frames at most; past that, edits wait merged in one queued update. The
 * server stores in order, so a slow store holds a bounded amount here, not a growing list.
 */
export const MAX_IN_FLIGHT = 16;
/** Typing notices at most this often per clause (the server rate-limits them too). */
export const TYPING_EVERY_MS = 2_000;

export type DraftOutFrame =
  | { type: 'draft_open'; agreement_id: string; doc: string; state_vector: string }
  | { type: 'draft_update'; agreement_id: string; doc: string; update: string }
  | { type: 'draft_typing'; agreement_id: string; doc: string; clause_id: string }
  | { type: 'draft_comment'; agreement_id: string; clause_id: string; text: string };

export interface DraftCommentInfo {
  id: string;
  agreement_id: string;
  clause_id: string;
  author_name: string;
  author_role: string;
  text: string;
  at: number;
}

export type DraftInFrame =
  | { type: 'draft_state'; request_id?: string; agreement_id: string; doc: string; update: string; state_vector: string; seq: number }
  | { type: 'draft_ack'; request_id?: string; agreement_id: string; doc: string; seq: number }
  | { type: 'draft_changed'; agreement_id: string; doc: string; update: string; seq: number; by: string; by_name: string; clauses: string[] }
  | { type: 'draft_typing'; agreement_id: string; doc: string; clause_id: string; participant_id: string; name: string }
  | { type: 'draft_comment'; comment: DraftCommentInfo }
  | { type: 'error'; request_id?: string; code: string; message: string };

/** Sends a frame; returns its request id, or null when the socket is not open. */
export type DraftSend = (frame: DraftOutFrame) => string | null;

export interface DraftSyncEvents {
  /** The server's state arrived (after every open): redraw everything. */
  synced: undefined;
  /** Someone else changed these clauses. */
  changed: { clauses: string[]; byName: string };
  /** A frame was refused; `code` is `draft_rejected` or `draft_not_stored`. */
  problem: { code: string; message: string };
  /** The pending count or the acknowledged seq changed. */
  progress: undefined;
  /** The document was replaced (after a refusal): bindings must be made again. */
  doc: Y.Doc;
}

export class DraftSync extends Emitter<DraftSyncEvents> {
  doc: Y.Doc;
  /** The last update number the server told us (ack, state or change). */
  seq = 0;
  /** Whether `draft_state` arrived since the last open. */
  synced = false;
  /** Sent, not yet acknowledged: request id → update. */
  private readonly inFlight = new Map<string, Uint8Array>();
  /** Edits not yet sent (batched, or waiting for the socket or for acks). */
  private queued: Uint8Array[] = [];
  private openRequest: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly typingSent = new Map<string, number>();
  private detach: () => void = () => {};
  /** Set when the server refused to open the draft: nothing more is sent for it. */
  stopped = false;
  /** Stores refused in a row (reset by an ack). */
  private failures = 0;

  constructor(
    readonly agreementId: string,
    readonly docName: string,
    private readonly send: DraftSend,
    doc: Y.Doc = new Y.Doc(),
    private readonly schedule: (run: () => void, ms: number) => ReturnType<typeof setTimeout> = (run, ms) => setTimeout(run, ms),
    private readonly now: () => number = () => Date.now(),
  ) {
    super();
    this.doc = doc;
    this.watch(doc);
  }

  /** Edits the server does not have yet, sent or not. */
  get pending(): number {
    return this.inFlight.size + (this.queued.length > 0 ? 1 : 0);
  }

  /** On every (re)connect: asks for what we lack and tells what we have. */
  open(): void {
    this.synced = false;
    this.stopped = false;
    // Frames sent on a dead socket will never be acknowledged; the state exchange resends them.
    for (const update of this.inFlight.values()) this.queued.push(update);
    this.inFlight.clear();
    this.openRequest = this.send({
      type: 'draft_open',
      agreement_id: this.agreementId,
      doc: this.docName,
      state_vector: toBase64(Y.encodeStateVector(this.doc)),
    });
    this.emit('progress', undefined);
  }

  /** A frame from the server; false when it is not for this draft. */
  receive(frame: DraftInFrame): boolean {
    switch (frame.type) {
      case 'draft_state':
        if (!this.mine(frame)) return false;
        this.onState(frame.update, frame.state_vector, frame.seq);
        return true;
      case 'draft_ack':
        if (!this.mine(frame)) return false;
        if (frame.request_id) this.inFlight.delete(frame.request_id);
        this.failures = 0;
        this.seq = Math.max(this.seq, frame.seq);
        this.emit('progress', undefined);
        this.flush();
        return true;
      case 'draft_changed':
        if (!this.mine(frame)) return false;
        if (!this.apply(frame.update)) return true;
        this.seq = Math.max(this.seq, frame.seq);
        this.emit('changed', { clauses: frame.clauses, byName: frame.by_name });
        this.emit('progress', undefined);
        return true;
      case 'error': {
        const ours = frame.request_id !== undefined && (frame.request_id === this.openRequest || this.inFlight.has(frame.request_id));
        if (!ours || (frame.code !== 'draft_rejected' && frame.code !== 'draft_not_stored')) return false;
        this.emit('problem', { code: frame.code, message: frame.message });
        if (frame.request_id === this.openRequest) {
          // The draft itself is refused (hidden again, or not ours to see): asking again won't help.
          this.openRequest = null;
          this.stopped = true;
        } else if (frame.code === 'draft_rejected') this.restart();
        else {
          // Not stored: nothing was applied there; the state exchange sends it again, after a
          // pause that grows while the store keeps failing.
          this.failures++;
          this.schedule(() => this.open(), Math.min(10_000, 500 * 2 ** Math.min(this.failures, 5)));
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** "I am typing in this clause", at most every two seconds per clause. */
  typing(clauseId: string): void {
    const last = this.typingSent.get(clauseId) ?? -Infinity;
    const now = this.now();
    if (now - last < TYPING_EVERY_MS) return;
    if (this.send({ type: 'draft_typing', agreement_id: this.agreementId, doc: this.docName, clause_id: clauseId }) !== null) {
      this.typingSent.set(clauseId, now);
    }
  }

  dispose(): void {
    this.detach();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private mine(frame: { agreement_id: string; doc: string }): boolean {
    return frame.agreement_id === this.agreementId && frame.doc === this.docName;
  }

  private watch(doc: Y.Doc): void {
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return;
      this.queued.push(update);
      if (this.timer === null) this.timer = this.schedule(() => this.flush(), BATCH_MS);
      this.emit('progress', undefined);
    };
    doc.on('update', onUpdate);
    this.detach = () => doc.off('update', onUpdate);
  }

  /** Sends what is queued as one update, once the server's state is known. */
  flush(): void {
    this.timer = null;
    if (!this.synced || this.stopped || this.queued.length === 0 || this.inFlight.size >= MAX_IN_FLIGHT) {
      // Merged while it waits, so a long offline spell holds one update, not thousands.
      if (this.queued.length > 1) this.queued = [Y.mergeUpdates(this.queued)];
      return;
    }
    const update = this.queued.length === 1 ? (this.queued[0] as Uint8Array) : Y.mergeUpdates(this.queued);
    const id = this.send({ type: 'draft_update', agreement_id: this.agreementId, doc: this.docName, update: toBase64(update) });
    if (id === null) {
      this.queued = [update];
      return;
    }
    this.queued = [];
    this.inFlight.set(id, update);
    this.emit('progress', undefined);
  }

  private onState(update: string, stateVector: string, seq: number): void {
    const hadWork = this.queued.length > 0 || this.inFlight.size > 0;
    if (!this.apply(update)) return;
    this.seq = seq;
    this.synced = true;
    this.openRequest = null;
    let serverVector: Uint8Array | undefined;
    try {
      serverVector = stateVector ? fromBase64(stateVector) : undefined;
    } catch {
      serverVector = undefined;
    }
    // Deletions do not show in a state vector: with work outstanding, the diff (which always
    // carries our whole delete set) is sent even if the vectors say the server has it all.
    const ahead = serverVector ? aheadOf(Y.encodeStateVector(this.doc), serverVector) : true;
    this.queued = [];
    this.inFlight.clear();
    if (ahead || hadWork) this.queued.push(Y.encodeStateAsUpdate(this.doc, serverVector));
    this.emit('synced', undefined);
    this.flush();
    this.emit('progress', undefined);
  }

  /** Applies a server update; a broken one is reported and answered by a fresh open. */
  private apply(update: string): boolean {
    try {
      const bytes = fromBase64(update);
      if (bytes.length > 0) Y.applyUpdate(this.doc, bytes, REMOTE);
      return true;
    } catch (error) {
      this.emit('problem', { code: 'bad_update', message: error instanceof Error ? error.message : String(error) });
      return false;
    }
  }

  /**
   * A refused edit would be refused again at every resend: the local copy is dropped and
   * the server's fetched afresh, and the person is told their change was not taken.
   */
  private restart(): void {
    this.detach();
    this.queued = [];
    this.inFlight.clear();
    this.doc = new Y.Doc();
    this.watch(this.doc);
    this.emit('doc', this.doc);
    this.open();
  }
}

/** Whether vector `mine` has anything `theirs` lacks. */
export function aheadOf(mine: Uint8Array, theirs: Uint8Array): boolean {
  const a = Y.decodeStateVector(mine);
  const b = Y.decodeStateVector(theirs);
  for (const [client, clock] of a) if (clock > (b.get(client) ?? 0)) return true;
  return false;
}
