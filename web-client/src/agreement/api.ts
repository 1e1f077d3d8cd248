// The agreement's HTTP API (common.md, "HTTP API"), for staff (their access token, through
// the staff client) and for people in a session (their join token). Both callers throw an
// error carrying the server's `code` and HTTP `status`.

import { errorFrom, RoomApiError } from '../room/room-api';
import { ApiError, type StaffClient } from '../staff/api';
import type { AgreementLocale, ClauseKind } from './doc';
import type { DraftState } from './http-sync';
import type { DraftCommentInfo } from './sync';

export type AgreementStatus = 'drafting' | 'final' | 'in_force';
export type SideName = 'applicant' | 'respondent';

export interface AgreementSigner {
  signer_id: string;
  name: string;
  role: 'party' | 'representative' | 'mediator';
  side: SideName | null;
  represents: string | null;
  required: boolean;
  may_sign: boolean;
  cannot_sign_reason: string | null;
  status: 'pending' | 'signed' | 'declined';
  signed_at: number | null;
  declined_reason: string | null;
  identity: { method: 'otp' | 'attestation' | 'staff'; at: number } | null;
  free_will: { answer: 'yes' | 'no'; at: number; recording_id: string | null; recording_offset_ms: number | null } | null;
}

export interface FinalText {
  version: number;
  text: string;
  text_sha256: string;
  finalised_at: number;
  finalised_by_name: string;
}

export interface PrivateDraft {
  doc: string;
  shown_to: SideName | null;
  created_at: number;
}

export interface Agreement {
  id: string;
  case_id: string;
  locale: AgreementLocale;
  status: AgreementStatus;
  version: number;
  e_signable: boolean;
  not_e_signable_reason: string | null;
  final: FinalText | null;
  effective_at: number | null;
  signers: AgreementSigner[];
  seal: { key_id: string; sealed_at: number; platform_key_id: string } | null;
  pdf_url: string | null;
  private_drafts: PrivateDraft[];
  updated_at: number;
}

export interface AgreementTemplate {
  id: string;
  category: string;
  locale: AgreementLocale;
  name: string;
  title: string;
  clauses: { kind: ClauseKind; text: string }[];
  /** True for the built-in text (id `builtin:<category>:<locale>`). */
  builtin?: boolean;
  organisation_id?: string | null;
}

export interface HistoryEdit {
  from_seq: number;
  to_seq: number;
  by_name: string;
  first_at: number;
  last_at: number;
  clauses: string[];
}

export interface VersionInfo {
  version: number;
  text_sha256: string;
  finalised_at: number;
  status: string;
}

export interface History {
  edits: HistoryEdit[];
  versions: VersionInfo[];
}

export interface VersionText extends VersionInfo {
  text: string;
}

export interface Moment {
  clause_id: string;
  label: string | null;
  last_edit_at: number;
  session_id: string | null;
  by_name: string;
}

/** A comment as listed; `resolved_at` only where the server keeps it. */
export type AgreementComment = DraftCommentInfo & { resolved_at?: number | null };

export type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** Calls as the signed-in staff member. */
export function staffCall(client: StaffClient): Call {
  return <T>(method: string, path: string, body?: unknown) => client.call<T>(method, path, body);
}

/** Calls with a session's join token. */
export function tokenCall(token: string, base = ''): Call {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new RoomApiError('network', 'no answer from the server');
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) throw errorFrom(response.status, text);
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new RoomApiError('bad_response', 'the server answered something unreadable', response.status);
    }
  };
}

/** The server's code of a failed call (`network` when there was no answer). */
export function errorCode(error: unknown): string {
  if (error instanceof ApiError || error instanceof RoomApiError) return error.code;
  return 'network';
}

export function errorStatus(error: unknown): number {
  if (error instanceof ApiError || error instanceof RoomApiError) return error.status;
  return 0;
}

const V1 = '/api/v1';
const enc = encodeURIComponent;

/** A list answer, whether the server wraps it in `{items}` or not. */
function items<T>(answer: T[] | { items: T[] }): T[] {
  return Array.isArray(answer) ? answer : answer.items;
}

export class AgreementApi {
  constructor(readonly call: Call) {}

  /** The case's agreement, or null when it has none yet. */
  async ofCase(caseId: string): Promise<Agreement | null> {
    return this.orNull(this.call<Agreement>('GET', `${V1}/cases/${enc(caseId)}/agreement`));
  }

  /** The agreement of the session our join token is for, or null. */
  async ofRoom(): Promise<Agreement | null> {
    return this.orNull(this.call<Agreement>('GET', `${V1}/room/agreement`));
  }

  create(caseId: string, body: { template_id?: string; locale?: AgreementLocale; personal_status?: boolean }): Promise<Agreement> {
    return this.call<Agreement>('POST', `${V1}/cases/${enc(caseId)}/agreement`, body);
  }

  async templates(category: string, locale?: AgreementLocale): Promise<AgreementTemplate[]> {
    const query = new URLSearchParams({ category });
    if (locale) query.set('locale', locale);
    return items(await this.call<AgreementTemplate[] | { items: AgreementTemplate[] }>('GET', `${V1}/agreement-templates?${query}`));
  }

  saveTemplate(organisationId: string, category: string, locale: AgreementLocale, body: { name: string; title: string; clauses: { kind: ClauseKind; text: string }[] }): Promise<unknown> {
    return this.call('PUT', `${V1}/organisations/${enc(organisationId)}/agreement-templates/${enc(category)}/${enc(locale)}`, body);
  }

  resetTemplate(organisationId: string, category: string, locale: AgreementLocale): Promise<unknown> {
    return this.call('DELETE', `${V1}/organisations/${enc(organisationId)}/agreement-templates/${enc(category)}/${enc(locale)}`);
  }

  draft(id: string, doc: string, stateVector: string): Promise<DraftState> {
    const query = new URLSearchParams({ doc, state_vector: stateVector });
    return this.call<DraftState>('GET', `${V1}/agreements/${enc(id)}/draft?${query}`);
  }

  postDraft(id: string, doc: string, update: string): Promise<{ seq: number }> {
    return this.call<{ seq: number }>('POST', `${V1}/agreements/${enc(id)}/draft`, { doc, update });
  }

  createPrivateDraft(id: string): Promise<{ doc: string }> {
    return this.call<{ doc: string }>('POST', `${V1}/agreements/${enc(id)}/private-drafts`, {});
  }

  showPrivateDraft(id: string, doc: string, side: SideName | null): Promise<unknown> {
    return this.call('POST', `${V1}/agreements/${enc(id)}/private-drafts/${enc(doc)}/show`, { side });
  }

  async comments(id: string): Promise<AgreementComment[]> {
    return items(await this.call<AgreementComment[] | { items: AgreementComment[] }>('GET', `${V1}/agreements/${enc(id)}/comments`));
  }

  comment(id: string, clauseId: string, text: string): Promise<AgreementComment> {
    return this.call<AgreementComment>('POST', `${V1}/agreements/${enc(id)}/comments`, { clause_id: clauseId, text });
  }

  resolveComment(id: string, commentId: string): Promise<unknown> {
    return this.call('POST', `${V1}/agreements/${enc(id)}/comments/${enc(commentId)}/resolve`, {});
  }

  history(id: string): Promise<History> {
    return this.call<History>('GET', `${V1}/agreements/${enc(id)}/history`);
  }

  version(id: string, n: number): Promise<VersionText> {
    return this.call<VersionText>('GET', `${V1}/agreements/${enc(id)}/versions/${n}`);
  }

  async moments(id: string): Promise<Moment[]> {
    return items(await this.call<Moment[] | { items: Moment[] }>('GET', `${V1}/agreements/${enc(id)}/moments`));
  }

  finalise(id: string): Promise<Agreement> {
    return this.call<Agreement>('POST', `${V1}/agreements/${enc(id)}/finalise`, {});
  }

  private async orNull<T>(call: Promise<T>): Promise<T | null> {
    try {
      return await call;
    } catch (error) {
      if (errorStatus(error) === 404 && errorCode(error) === 'not_found') return null;
      throw error;
    }
  }
}
