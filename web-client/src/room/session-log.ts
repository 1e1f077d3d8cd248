// What was said and shown in the session, as one stream in the order it happened: chat messages, shared
// evidence, and where we moved between spaces (so a reader knows which room a message was
// said in). Counts what arrived from others since the reader last looked.

import type { ChatMessage, SharedEvidence, Space } from '../signal/messages';

export type LogItem =
  | { kind: 'chat'; key: string; at: number; mine: boolean; message: ChatMessage }
  | { kind: 'evidence'; key: string; at: number; mine: boolean; evidence: SharedEvidence }
  | { kind: 'moved'; key: string; at: number; space: Space };

export class SessionLog {
  private items: LogItem[] = [];
  private readonly seen = new Set<string>();
  private unreadCount = 0;
  private moves = 0;

  /** `selfId` is read on each message: our id is only known once we have joined. */
  constructor(private readonly selfId: () => string | null) {}

  get unread(): number {
    return this.unreadCount;
  }

  list(): readonly LogItem[] {
    return this.items;
  }

  chatMessages(): ChatMessage[] {
    return this.items.flatMap((item) => (item.kind === 'chat' ? [item.message] : []));
  }

  evidence(): SharedEvidence[] {
    return this.items.flatMap((item) => (item.kind === 'evidence' ? [item.evidence] : []));
  }

  /**
   * The history `joined` brings replaces the chat we had: it is the server's word on what was
   * said in our space. Evidence and moves are ours to keep. On a resume (`countUnread`), what
   * arrived while we were away counts as unread.
   */
  resetChat(history: readonly ChatMessage[], countUnread: boolean): void {
    const before = new Set(this.items.filter((item) => item.kind === 'chat').map((item) => item.key));
    this.items = this.items.filter((item) => item.kind !== 'chat');
    for (const key of before) this.seen.delete(key);
    for (const message of history) {
      const item = this.chatItem(message);
      this.items.push(item);
      this.seen.add(item.key);
      if (countUnread && !before.has(item.key) && !item.mine) this.unreadCount++;
    }
    this.sort();
  }

  /** Null for a message we have already (a resume may deliver it twice). */
  addChat(message: ChatMessage): LogItem | null {
    return this.add(this.chatItem(message));
  }

  addEvidence(evidence: SharedEvidence): LogItem | null {
    const mine = evidence.participant_id === this.selfId();
    return this.add({ kind: 'evidence', key: `evidence:${evidence.id}`, at: evidence.at, mine, evidence });
  }

  /**
   * A move is stamped with the time of the last item before it, not our clock: messages carry
   * the server's time, and a phone's clock that runs ahead would sort the marker after them.
   */
  addMove(space: Space): LogItem {
    const at = this.items.length ? this.items[this.items.length - 1].at : 0;
    const item: LogItem = { kind: 'moved', key: `moved:${this.moves++}`, at, space };
    this.items.push(item);
    return item;
  }

  markRead(): void {
    this.unreadCount = 0;
  }

  private chatItem(message: ChatMessage): Extract<LogItem, { kind: 'chat' }> {
    return { kind: 'chat', key: `chat:${message.id}`, at: message.at, mine: message.participant_id === this.selfId(), message };
  }

  private add(item: LogItem): LogItem | null {
    if (this.seen.has(item.key)) return null;
    this.seen.add(item.key);
    // Live items go in as they arrive: the server sends a space's messages in order.
    this.items.push(item);
    if (item.kind !== 'moved' && !item.mine) this.unreadCount++;
    return item;
  }

  /** Stable: items of the same millisecond keep the order they arrived in. */
  private sort(): void {
    this.items.sort((a, b) => a.at - b.at);
  }
}
