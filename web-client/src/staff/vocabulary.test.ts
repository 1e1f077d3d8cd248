import { describe, expect, it } from 'vitest';
import type { AuditEntry, SessionEvent } from './api';
import { AUDIT_ACTION_WORDS, SESSION_EVENT_SENTENCES, auditActionOf, sessionEventKindOf } from './vocabulary';
import { auditAction } from './audit';
import { eventSentence } from './record';

// The example records the server's tests read too (docs/api/examples): an audit action or a
// session-record kind one copy has and the other lacks fails one of the two.
const auditExamples = import.meta.glob('../../../docs/api/examples/audit/*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;
const timelineExamples = import.meta.glob('../../../docs/api/examples/timeline/*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

/** Each example's name in `field`, checked against its file's name. */
function namesIn(examples: Record<string, string>, field: 'action' | 'kind'): string[] {
  const files = Object.entries(examples);
  expect(files.length).toBeGreaterThan(0);
  return files.map(([file, text]) => {
    const name = (JSON.parse(text) as Record<string, unknown>)[field];
    expect(typeof name, file).toBe('string');
    expect(file.split('/').pop(), `${file} should be named after its ${field}`).toBe(`${String(name)}.json`);
    return String(name);
  });
}

describe('the names the server writes', () => {
  it('knows every audit action of the examples, and each action has one', () => {
    const examples = namesIn(auditExamples, 'action');
    expect(examples.filter((action) => auditActionOf(action) === null)).toEqual([]);
    expect(Object.keys(AUDIT_ACTION_WORDS).filter((action) => !examples.includes(action))).toEqual([]);
  });

  it('knows every session-record kind of the examples, and each kind has one', () => {
    const examples = namesIn(timelineExamples, 'kind');
    expect(examples.filter((kind) => sessionEventKindOf(kind) === null)).toEqual([]);
    expect(Object.keys(SESSION_EVENT_SENTENCES).filter((kind) => !examples.includes(kind))).toEqual([]);
  });

  it('has words for every action a case’s trail holds and a sentence for every entry', () => {
    for (const text of Object.values(auditExamples)) {
      const entry = JSON.parse(text) as AuditEntry & { subject: string };
      if (entry.subject.startsWith('case:')) expect(auditAction(entry.action), entry.action).not.toBe(entry.action);
    }
    for (const text of Object.values(timelineExamples)) {
      const event = JSON.parse(text) as SessionEvent;
      expect(eventSentence(event, 'zh-CN'), event.kind).not.toContain(event.kind);
    }
  });
});
