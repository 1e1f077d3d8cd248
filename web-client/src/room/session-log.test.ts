import { describe, expect, it } from 'vitest';
import type { ChatMessage, SharedEvidence } from '../signal/messages';
import { SessionLog } from './session-log';

const chat = (id: string, from: string, at: number, text = id): ChatMessage => ({ id, participant_id: from, name: from, text, at });
const file = (id: string, from: string, at: number): SharedEvidence => ({
  id,
  name: `${id}.jpg`,
  content_type: 'image/jpeg',
  size: 1000,
  participant_id: from,
  shared_by: from,
  at,
});

describe('session log', () => {
  it('counts what others said as unread until read, never our own', () => {
    const log = new SessionLog(() => 'me');
    log.addChat(chat('c1', 'zhang', 1));
    log.addChat(chat('c2', 'me', 2));
    log.addEvidence(file('e1', 'zhang', 3));
    expect(log.unread).toBe(2);
    log.markRead();
    expect(log.unread).toBe(0);
    expect(log.chatMessages().map((m) => m.text)).toEqual(['c1', 'c2']);
    expect(log.evidence().map((e) => e.id)).toEqual(['e1']);
  });

  it('drops a message or file it already has', () => {
    const log = new SessionLog(() => 'me');
    expect(log.addChat(chat('c1', 'zhang', 1))).not.toBeNull();
    expect(log.addChat(chat('c1', 'zhang', 1))).toBeNull();
    expect(log.addEvidence(file('e1', 'zhang', 2))).not.toBeNull();
    expect(log.addEvidence(file('e1', 'zhang', 2))).toBeNull();
    expect(log.list()).toHaveLength(2);
    expect(log.unread).toBe(2);
  });

  it('takes the history of joined as the chat, keeps files, and counts what a resume brings as unread', () => {
    const log = new SessionLog(() => 'me');
    log.resetChat([chat('c1', 'zhang', 1), chat('c2', 'me', 2)], false);
    expect(log.unread, 'history on first entry is not news').toBe(0);
    log.addEvidence(file('e1', 'zhang', 3));
    log.markRead();
    log.resetChat([chat('c1', 'zhang', 1), chat('c2', 'me', 2), chat('c3', 'wang', 4)], true);
    expect(log.list().map((i) => i.key)).toEqual(['chat:c1', 'chat:c2', 'evidence:e1', 'chat:c3']);
    expect(log.unread).toBe(1);
    expect(log.addChat(chat('c3', 'wang', 4)), 'the same message delivered again after the resume').toBeNull();
  });

  it('marks a move after what was said before it, whatever our clock says', () => {
    const log = new SessionLog(() => 'me');
    log.addChat(chat('c1', 'zhang', 5_000));
    const moved = log.addMove('applicant');
    log.addChat(chat('c2', 'li', 6_000));
    expect(moved.at).toBe(5_000);
    expect(log.list().map((i) => i.kind)).toEqual(['chat', 'moved', 'chat']);
    expect(log.unread, 'a move is not a message').toBe(2);
  });
});
