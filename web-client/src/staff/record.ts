// A session's record (笔录) in words: who did what, where and when, as a mediator or a court
// clerk reads it after the session. Only functions of the stored entries and the case's
// parties, so every sentence can be checked without a browser; record-view.ts draws them.

import { type Language, type MessageKey, hasMessage, language, t } from '../i18n';
import { type Party, type SessionEvent, formatChinaTime } from './api';
import { SESSION_EVENT_SENTENCES, sessionEventKindOf } from './vocabulary';

/** A piece of a sentence: words, or a shared file the reader can open. */
export type Part = string | { evidenceId: string; name: string };

/** The case's parties by id: a party's identity in the room is their party id. */
export type People = ReadonlyMap<string, Party>;

export function peopleOf(parties: readonly Party[]): People {
  return new Map(parties.map((p) => [p.id, p]));
}

/** The words for a code (`role.mediator`), or the code itself when the app has none yet. */
function label(prefix: string, code: string, lang: Language): string {
  const key = `${prefix}.${code}`;
  return hasMessage(key) ? t(key, {}, lang) : code;
}

/** What someone was in the session: their side (and helper kind) for parties, else their role. */
export function roleOf(identity: string | null, role: string | null, people: People, lang: Language = language()): string {
  const party = identity ? people.get(identity) : undefined;
  if (party) {
    const side = label('side', party.side, lang);
    if (party.kind === 'person' || party.kind === 'organisation') return side;
    return t('record.helper', { side, kind: label('kind', party.kind, lang) }, lang);
  }
  return role ? label('role', role, lang) : '';
}

/** Name with role or side, as the "who" column shows it. */
export function whoOf(event: SessionEvent, people: People, lang: Language = language()): string {
  const name = event.actor_name ?? t('record.someone', {}, lang);
  const role = roleOf(event.actor_identity, event.actor_role, people, lang);
  return role ? t('record.who', { name, role }, lang) : name;
}

/** Where it happened: a room's name, the waiting room, or nothing for the session as a whole. */
export function placeOf(event: SessionEvent, lang: Language = language()): string {
  const kind = sessionEventKindOf(event.kind);
  if (kind === 'waiting' || kind === 'denied' || (kind === 'left' && leftReason(event).waiting)) {
    return t('record.waitingRoom', {}, lang);
  }
  return event.space ? label('space', event.space, lang) : '';
}

/** `disconnected (waiting)` → the reason and whether they were still in the waiting room. */
function leftReason(event: SessionEvent): { reason: string; waiting: boolean } {
  const detail = (event.detail ?? '').trim();
  const waiting = detail.endsWith('(waiting)');
  return { reason: (waiting ? detail.slice(0, -'(waiting)'.length) : detail).trim(), waiting };
}

/** `EV_… file name.pdf` → the evidence id and its file name (which may hold spaces). */
export function sharedFile(detail: string | null): { evidenceId: string; name: string } | null {
  const match = /^(\S+) (.+)$/s.exec(detail ?? '');
  return match ? { evidenceId: match[1] ?? '', name: match[2] ?? '' } : null;
}

/** A room as a sentence names it; moves name only where they went. */
function spaceIn(event: SessionEvent, lang: Language): string {
  const space = event.space ?? /→\s*(\w+)/.exec(event.detail ?? '')?.[1];
  return space ? label('record.space', space, lang) : '—';
}

/** Mediators are named with their office, as a record names them; everyone else by name. */
function named(name: string | null, role: string | null, lang: Language): string {
  if (!name) return t('record.someone', {}, lang);
  return role === 'mediator' ? t('record.mediatorName', { name }, lang) : name;
}

/** The message for an entry and what fills it. */
function sentenceOf(event: SessionEvent, lang: Language): { key: string; values: Record<string, Part> } {
  const reason = (text: string | null) => (text?.trim() ? t('record.reason', { reason: text.trim() }, lang) : '');
  const values: Record<string, Part> = {
    actor: named(event.actor_name, event.actor_role, lang),
    subject: named(event.subject_name, null, lang),
    space: spaceIn(event, lang),
  };
  const kind = sessionEventKindOf(event.kind);
  switch (kind) {
    case 'moved':
      // A mediator moving themself goes to a room; anyone else is moved there.
      return { key: event.subject_identity === event.actor_identity ? 'record.event.movedSelf' : 'record.event.moved', values };
    case 'left': {
      const { reason: why, waiting } = leftReason(event);
      const known = `record.leftReason.${why}`;
      values.reason =
        !why || why === 'left' ? '' : hasMessage(known) ? t(known, {}, lang) : t('record.leftReason.other', { reason: why }, lang);
      return { key: waiting ? 'record.event.leftWaiting' : 'record.event.left', values };
    }
    case 'denied':
    case 'removed':
      values.reason = reason(event.detail);
      return { key: SESSION_EVENT_SENTENCES[kind], values };
    case 'unmute_asked': {
      const source = ['microphone', 'camera', 'screen'].includes(event.detail ?? '') ? event.detail : 'other';
      return { key: `record.event.unmute_asked.${source}`, values };
    }
    case 'video_stopped':
      return { key: `record.event.video_stopped.${event.detail === 'screen' ? 'screen' : 'camera'}`, values };
    case 'chat':
      values.text = event.detail ?? '';
      return { key: SESSION_EVENT_SENTENCES[kind], values };
    case 'evidence_shared':
      values.name = sharedFile(event.detail) ?? (event.detail ?? '');
      return { key: SESSION_EVENT_SENTENCES[kind], values };
    default: {
      // A kind newer than this page may have words already; if not, it is said with its code
      // rather than hidden from the record.
      const key = (kind && SESSION_EVENT_SENTENCES[kind]) ?? `record.event.${event.kind}`;
      if (hasMessage(key)) return { key, values };
      values.kind = event.kind;
      values.detail = event.detail ?? '';
      return { key: 'record.event.other', values };
    }
  }
}

/** What happened, in a plain sentence, with a shared file kept as a part the page can link. */
export function eventParts(event: SessionEvent, lang: Language = language()): Part[] {
  const { key, values } = sentenceOf(event, lang);
  const template = t(key as MessageKey, {}, lang);
  const parts: Part[] = [];
  for (const piece of template.split(/(\{\w+\})/)) {
    const name = /^\{(\w+)\}$/.exec(piece)?.[1];
    const part: Part = name !== undefined && name in values ? (values[name] as Part) : piece;
    const last = parts[parts.length - 1];
    if (typeof part === 'string' && typeof last === 'string') parts[parts.length - 1] = last + part;
    else if (part !== '') parts.push(part);
  }
  return parts;
}

/** The sentence as plain text (a file by its name). */
export function eventSentence(event: SessionEvent, lang: Language = language()): string {
  return eventParts(event, lang)
    .map((p) => (typeof p === 'string' ? p : p.name))
    .join('');
}

/** Unix milliseconds as `hh:mm:ss`, Beijing time. */
export function chinaClock(ms: number): string {
  const seconds = new Date(ms + 8 * 3600 * 1000).getUTCSeconds();
  return `${formatChinaTime(ms).slice(11)}:${String(seconds).padStart(2, '0')}`;
}

/** Unix milliseconds as `yyyy-mm-dd`, Beijing time. */
export function chinaDate(ms: number): string {
  return formatChinaTime(ms).slice(0, 10);
}

/** The mediators who acted in the session, by name, in the order they first did. */
export function mediatorsOf(events: readonly SessionEvent[]): string[] {
  const names = events.filter((e) => e.actor_role === 'mediator' && e.actor_name).map((e) => e.actor_name as string);
  return [...new Set(names)];
}

/** Everyone who was in the session (joined, or was let in), with role or side, first come first. */
export function attendeesOf(events: readonly SessionEvent[], people: People, lang: Language = language()): string[] {
  const seen = new Map<string, string>();
  for (const e of events) {
    const kind = sessionEventKindOf(e.kind);
    const [identity, name, role] =
      kind === 'joined' ? [e.actor_identity, e.actor_name, e.actor_role] : kind === 'admitted' ? [e.subject_identity, e.subject_name, null] : [];
    if (!identity || !name || seen.has(identity)) continue;
    const what = roleOf(identity, role ?? null, people, lang);
    seen.set(identity, what ? t('record.who', { name, role: what }, lang) : name);
  }
  return [...seen.values()];
}
