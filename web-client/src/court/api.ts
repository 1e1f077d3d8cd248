// The court's calls (the API contract of issue 16, routes 8–15), through the staff client so a
// run-out access token is refreshed once and a refusal arrives as an ApiError {code, message}.

import { ApiError, type StaffClient } from '../staff/api';
import type { CourtRequest, InboxItem, InboxState } from './types';

const base = (id: string) => `/api/v1/court/requests/${encodeURIComponent(id)}`;

export async function listRequests(client: StaffClient, state: InboxState): Promise<InboxItem[]> {
  const body = await client.call<{ requests: InboxItem[] }>('GET', `/api/v1/court/requests?state=${state}`);
  return body.requests;
}

/** The request; the first open of a submitted one marks it received on the server. */
export function getRequest(client: StaffClient, id: string): Promise<CourtRequest> {
  return client.call<CourtRequest>('GET', base(id));
}

/** A package file's address (each path segment encoded, the slashes kept). */
export function fileUrl(id: string, path: string): string {
  return `${base(id)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function packageUrl(id: string): string {
  return `/api/v1/confirmation-requests/${encodeURIComponent(id)}/package.zip`;
}

/** The stored ruling document (route 7), once the court uploaded one. */
export function rulingUrl(id: string): string {
  return `/api/v1/confirmation-requests/${encodeURIComponent(id)}/ruling`;
}

export function accept(client: StaffClient, id: string, courtCaseNumber: string): Promise<unknown> {
  return client.call('POST', `${base(id)}/accept`, { court_case_number: courtCaseNumber });
}

export function extend(client: StaffClient, id: string, reason: string): Promise<unknown> {
  return client.call('POST', `${base(id)}/extend`, { reason });
}

/**
 * Uploads the ruling document as the raw body (PDF or image), as route 13 takes it; answers
 * its SHA-256, which the confirmation then names.
 */
export async function uploadRuling(
  client: StaffClient,
  id: string,
  file: Blob,
  fetcher: typeof fetch = (input, init) => fetch(input, init),
): Promise<{ sha256: string; size: number }> {
  const put = () =>
    fetcher(`${base(id)}/ruling`, {
      method: 'PUT',
      body: file,
      headers: { authorization: client.authorization(), 'content-type': file.type || 'application/pdf' },
    });
  let response: Response;
  try {
    response = await put();
    if (response.status === 401) {
      // The access token ran out: any call through the client refreshes it, then once more.
      await getRequest(client, id);
      response = await put();
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, 'network', 'network');
  }
  if (!response.ok) {
    let body: { code?: string; message?: string } = {};
    try {
      body = (await response.json()) as typeof body;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(response.status, body.code ?? 'unknown', body.message ?? response.statusText);
  }
  return (await response.json()) as { sha256: string; size: number };
}

export function confirm(
  client: StaffClient,
  id: string,
  body: { ruling_number: string; ruling_date: string; ruling_sha256: string },
): Promise<unknown> {
  return client.call('POST', `${base(id)}/confirm`, body);
}

export function reject(client: StaffClient, id: string, body: { reasons: string; ruling_number?: string; ruling_sha256?: string }): Promise<unknown> {
  return client.call('POST', `${base(id)}/reject`, body);
}
