// The signing routes (common brief, "[V2]"), called with whatever bearer token the viewer holds:
// a party's join token or a staff access token. A refusal comes back as the server's
// `{code, message}` so the screens can show the server's own words.

import type { Agreement } from './types';

export class SigningError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

export type IdentityProof = { method: 'otp'; code: string } | { method: 'attestation' } | { method: 'staff' };

export interface OtpSent {
  /** The masked phone, e.g. `138****1234`. */
  sent_to: string;
  expires_at: number;
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export class SigningApi {
  constructor(
    private readonly base: string,
    private readonly authHeader: () => string,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {}

  private path(agreementId: string, rest: string): string {
    return `/api/v1/agreements/${encodeURIComponent(agreementId)}${rest}`;
  }

  sendOtp(agreementId: string): Promise<OtpSent> {
    return this.json('POST', this.path(agreementId, '/identity/otp'), {});
  }

  registerKey(agreementId: string, proof: IdentityProof, publicKey: string): Promise<unknown> {
    return this.json('POST', this.path(agreementId, '/identity'), { ...proof, public_key: publicKey });
  }

  attest(agreementId: string, signerId: string): Promise<Agreement> {
    return this.json('POST', this.path(agreementId, '/attest'), { signer_id: signerId });
  }

  freeWill(agreementId: string, partyId: string, answer: 'yes' | 'no', note: string): Promise<Agreement> {
    const body: Record<string, string> = { party_id: partyId, answer };
    if (note.trim()) body.note = note.trim();
    return this.json('POST', this.path(agreementId, '/free-will'), body);
  }

  async challenge(agreementId: string): Promise<string> {
    const body = await this.json<{ payload?: unknown }>('GET', this.path(agreementId, '/signing/challenge'));
    if (typeof body.payload !== 'string') throw new SigningError('bad_response', 'the challenge has no payload');
    return body.payload;
  }

  sign(agreementId: string, body: { payload: string; signature: string; image: string; public_key: string }): Promise<Agreement> {
    return this.json('POST', this.path(agreementId, '/signatures'), body);
  }

  decline(agreementId: string, reason: string): Promise<Agreement> {
    return this.json('POST', this.path(agreementId, '/decline'), { reason });
  }

  seal(agreementId: string): Promise<Agreement> {
    return this.json('POST', this.path(agreementId, '/seal'), {});
  }

  /** The sealed PDF; `url` is the agreement's `pdf_url` as given. */
  async pdf(url: string): Promise<Blob> {
    const response = await this.request('GET', url);
    return response.blob();
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new SigningError('bad_response', 'the server answered something unreadable', response.status);
    }
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: this.authHeader() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // `pdf_url` may already be absolute; everything else is a path under the API base.
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    let response: Response;
    try {
      response = await this.fetcher(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new SigningError('network', 'no answer from the server');
    }
    if (!response.ok) throw signingErrorFrom(response.status, await response.text().catch(() => ''));
    return response;
  }
}

/** The server's `{code, message}`; a proxy's HTML page becomes `http_<status>`. */
export function signingErrorFrom(status: number, text: string): SigningError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') return new SigningError(body.code, typeof body.message === 'string' ? body.message : '', status);
  } catch {
    // not JSON
  }
  return new SigningError(`http_${status}`, text.slice(0, 200), status);
}
