// Field errors in the reader's language. The server words its 422 `fields` in English for
// developers; the messages it uses are few and stable, so the desk says them in its own
// words and shows any message it does not know as the server wrote it.

import { type MessageKey, t } from '../i18n';
import type { ApiError } from './api';

/** One field error from the server, in the reader's language. */
export function problemText(field: string, message: string): string {
  const said = (key: MessageKey, values: Record<string, string> = {}) => t(key, values);
  let match: RegExpExecArray | null;
  if (message.startsWith('required')) {
    return field === 'organisation_id' ? said('staff.problem.organisation') : said('staff.problem.required');
  }
  if ((match = /^at least (\d+) characters$/.exec(message))) return said('staff.problem.atLeast', { n: match[1] ?? '' });
  if ((match = /^at most (\d+) characters$/.exec(message))) return said('staff.problem.atMost', { n: match[1] ?? '' });
  if ((match = /^at most (\d+) parties$/.exec(message))) return said('staff.problem.tooManyParties', { n: match[1] ?? '' });
  if (message === 'at least one applicant and one respondent') return said('staff.problem.bothSides');
  if (message === 'not a valid resident ID number') return said('staff.problem.idNumber');
  if (message === 'organisations have no resident ID number') return said('staff.problem.organisationId');
  if (message === 'must differ from the username') return said('staff.problem.passwordIsUsername');
  if (message === 'not only spaces') return said('staff.problem.onlySpaces');
  if (message === 'no such organisation') return said('staff.problem.organisation');
  if (message.startsWith('one of:')) return said('staff.problem.choose');
  if (field.endsWith('phone')) return said('staff.problem.phone');
  if (field === 'username' && message.includes('letters')) return said('staff.problem.username');
  return message;
}

/** A refused form's field errors by field name, in the reader's language. */
export function problemsOf(error: ApiError): Record<string, string> {
  return Object.fromEntries(error.fields.map((f) => [f.field, problemText(f.field, f.message)]));
}
