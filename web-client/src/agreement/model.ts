// What the agreement screens share: the agreement as the server last said, the comments,
// who is typing where and which clauses just changed. Screens redraw on `changed`.

import { Emitter } from '../emitter';
import type { Agreement, AgreementApi, AgreementComment } from './api';
import type { DraftCommentInfo } from './sync';

/** A typing notice shows this long after the last one (the editor repeats it every 2 s). */
export const TYPING_SHOWN_MS = 4_000;
/** A changed clause stays highlighted this long (the CSS fades it). */
export const CHANGE_SHOWN_MS = 3_000;
/** The comments kept; older ones are in the server's list. */
const MAX_COMMENTS = 500;

export interface AgreementModelEvents {
  changed: undefined;
  /** The agreement JSON was fetched again. */
  agreement: Agreement | null;
}

export class AgreementModel extends Emitter<AgreementModelEvents> {
  agreement: Agreement | null = null;
  /** Whether the first fetch has answered (null then means "no agreement yet"). */
  loaded = false;
  readonly comments = new Map<string, AgreementComment>();
  /** Per doc, per clause: who types and until when. */
  readonly typing = new Map<string, { name: string; until: number }>();
  /** Clause ids changed by someone else a moment ago. */
  readonly flashed = new Set<string>();
  /** Whether the server keeps comments' resolution (its list carries `resolved_at`). */
  resolvable = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private fetching: Promise<void> | null = null;

  constructor(
    readonly api: AgreementApi,
    private readonly fetchAgreement: () => Promise<Agreement | null>,
  ) {
    super();
  }

  /** Fetches the agreement again; concurrent calls share one request. */
  refresh(): Promise<void> {
    this.fetching ??= this.fetchAgreement()
      .then(async (agreement) => {
        const first = !this.loaded || this.agreement?.id !== agreement?.id;
        this.agreement = agreement;
        this.loaded = true;
        if (agreement && first) await this.loadComments().catch((error: unknown) => console.warn('[accord] agreement comments', error));
        this.emit('agreement', agreement);
        this.emit('changed', undefined);
      })
      .finally(() => {
        this.fetching = null;
      });
    return this.fetching;
  }

  async loadComments(): Promise<void> {
    const agreement = this.agreement;
    if (!agreement) return;
    const list = await this.api.comments(agreement.id);
    this.resolvable = list.some((c) => 'resolved_at' in c);
    for (const comment of list) this.comments.set(comment.id, comment);
    this.emit('changed', undefined);
  }

  addComment(comment: DraftCommentInfo): void {
    if (this.agreement && comment.agreement_id !== this.agreement.id) return;
    this.comments.set(comment.id, { ...this.comments.get(comment.id), ...comment });
    while (this.comments.size > MAX_COMMENTS) this.comments.delete(this.comments.keys().next().value as string);
    this.emit('changed', undefined);
  }

  commentsOf(clauseId: string): AgreementComment[] {
    return [...this.comments.values()].filter((c) => c.clause_id === clauseId && !c.resolved_at).sort((a, b) => a.at - b.at);
  }

  async resolve(commentId: string): Promise<void> {
    const agreement = this.agreement;
    const comment = this.comments.get(commentId);
    if (!agreement || !comment) return;
    await this.api.resolveComment(agreement.id, commentId);
    this.comments.set(commentId, { ...comment, resolved_at: Date.now() });
    this.emit('changed', undefined);
  }

  noteTyping(doc: string, clauseId: string, name: string): void {
    const key = `${doc}/${clauseId}`;
    this.typing.set(key, { name, until: Date.now() + TYPING_SHOWN_MS });
    this.later(() => {
      if ((this.typing.get(key)?.until ?? 0) <= Date.now()) this.typing.delete(key);
    }, TYPING_SHOWN_MS + 50);
    this.emit('changed', undefined);
  }

  typingIn(doc: string, clauseId: string): string | null {
    const entry = this.typing.get(`${doc}/${clauseId}`);
    return entry && entry.until > Date.now() ? entry.name : null;
  }

  flash(clauseIds: string[]): void {
    for (const id of clauseIds) this.flashed.add(id);
    this.later(() => {
      for (const id of clauseIds) this.flashed.delete(id);
    }, CHANGE_SHOWN_MS);
    this.emit('changed', undefined);
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
      this.emit('changed', undefined);
    }, ms);
    this.timers.add(timer);
  }
}
