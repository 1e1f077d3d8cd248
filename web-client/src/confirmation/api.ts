// The judicial confirmation's HTTP API (common brief, "HTTP API" 1–7), called with whatever the
// viewer holds: a party's join or case-link token, or a staff access token. A refusal carries
// the server's `{code, message}`; `problemText` puts it in the reader's words.

import { type Call, errorCode, staffCall, tokenCall } from '../agreement/api';
import { hasMessage, type MessageKey, t } from '../i18n';
import { RoomApiError } from '../room/room-api';
import type { StaffClient } from '../staff/api';
import type { ApplyBody, ConfirmationLink, ConfirmationView, IdentityProofKind, IdentityProofView } from './types';

const V1 = '/api/v1';
const enc = encodeURIComponent;

/** Fetches a binary resource (a PDF, the package, the ruling) with the viewer's credentials. */
export type BlobFetch = (path: string) => Promise<Blob>;

/** Posts one file (multipart field `file`) with other text fields, with the viewer's credentials. */
export type FilePost = <T>(path: string, file: File, fields: Record<string, string>) => Promise<T>;

export class ConfirmationApi {
  constructor(
    readonly call: Call,
    readonly blob: BlobFetch,
    readonly post: FilePost,
  ) {}

  /** With a party's join token or case-link token. */
  static forToken(token: string): ConfirmationApi {
    return new ConfirmationApi(tokenCall(token), (path) => tokenBlob(token, path), (path, file, fields) => tokenPost(token, path, file, fields));
  }

  /** As the signed-in staff member (mediator, administrator, court user). */
  static forStaff(client: StaffClient): ConfirmationApi {
    return new ConfirmationApi(staffCall(client), (path) => client.blob(path), (path, file, fields) => client.uploadTo(path, file, fields));
  }

  view(agreementId: string): Promise<ConfirmationView> {
    return this.call<ConfirmationView>('GET', `${V1}/agreements/${enc(agreementId)}/confirmation`);
  }

  apply(agreementId: string, body: ApplyBody): Promise<ConfirmationView> {
    return this.call<ConfirmationView>('POST', `${V1}/agreements/${enc(agreementId)}/confirmation/apply`, body);
  }

  changeCourt(agreementId: string, court: string, reason: string): Promise<ConfirmationView> {
    return this.call<ConfirmationView>('POST', `${V1}/agreements/${enc(agreementId)}/confirmation/court`, { court, reason });
  }

  async links(agreementId: string): Promise<ConfirmationLink[]> {
    const answer = await this.call<{ links: ConfirmationLink[] }>('POST', `${V1}/agreements/${enc(agreementId)}/confirmation/links`, {});
    return answer.links;
  }

  applicationPdf(requestId: string): Promise<Blob> {
    return this.blob(`${V1}/confirmation-requests/${enc(requestId)}/application.pdf`);
  }

  packageZip(requestId: string): Promise<Blob> {
    return this.blob(`${V1}/confirmation-requests/${enc(requestId)}/package.zip`);
  }

  ruling(requestId: string): Promise<Blob> {
    return this.blob(`${V1}/confirmation-requests/${enc(requestId)}/ruling`);
  }

  /**
   * Uploads a proof of identity (an ID card's side, a passport, a licence: JPEG, PNG or PDF).
   * A party may leave `partyId` out for themselves; staff name the party.
   */
  uploadIdentityProof(agreementId: string, file: File, kind: IdentityProofKind, partyId?: string): Promise<IdentityProofView> {
    return this.post<IdentityProofView>(identityProofs(agreementId), file, { kind, ...(partyId ? { party_id: partyId } : {}) });
  }

  async removeIdentityProof(agreementId: string, proofId: string): Promise<void> {
    await this.call<unknown>('DELETE', `${identityProofs(agreementId)}/${enc(proofId)}`);
  }

  /**
   * A proof's file. Fetched with the credentials in a header and shown through a blob URL: a
   * token in a URL would end up in the history and the server's logs.
   */
  identityProof(agreementId: string, proofId: string): Promise<Blob> {
    return this.blob(`${identityProofs(agreementId)}/${enc(proofId)}`);
  }

  /** The agreement's sealed PDF (its `pdf_url`). */
  agreementPdf(pdfUrl: string): Promise<Blob> {
    return this.blob(pdfUrl);
  }
}

const identityProofs = (agreementId: string) => `${V1}/agreements/${enc(agreementId)}/confirmation/identity-proofs`;

async function tokenBlob(token: string, path: string): Promise<Blob> {
  const response = await tokenFetch(token, path, {});
  return response.blob();
}

async function tokenPost<T>(token: string, path: string, file: File, fields: Record<string, string>): Promise<T> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', file, file.name);
  // No content-type: the browser writes the multipart boundary itself.
  const response = await tokenFetch(token, path, { method: 'POST', body: form });
  const text = await response.text().catch(() => '');
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch {
    throw new RoomApiError('bad_response', 'the server answered something unreadable', response.status);
  }
}

/** A request with the token in the header; a refusal becomes the server's `{code, message}`. */
async function tokenFetch(token: string, path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new RoomApiError('network', 'no answer from the server');
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let code = `http_${response.status}`;
    let message = text.slice(0, 200);
    try {
      const body = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // not JSON: the status says enough
    }
    throw new RoomApiError(code, message, response.status);
  }
  return response;
}

/**
 * A refused call in the reader's words: our own sentence for the codes a party meets (the
 * window closed, a personal-status agreement, a missing power of attorney…), else the server's
 * own `message`, else the code.
 */
export function problemText(error: unknown): string {
  const code = errorCode(error);
  const key = `confirm.error.${code}`;
  if (hasMessage(key)) return t(key as MessageKey);
  const message = error instanceof Error ? error.message : '';
  return message || t('confirm.error.other', { code });
}

/** Saves a fetched file under `name` (an object URL, freed once the browser has it). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Opens a fetched PDF in a new tab (phones show it in their viewer). */
export function openBlob(blob: Blob): void {
  const url = URL.createObjectURL(blob);
  window.open(url, '_blank', 'noopener');
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
