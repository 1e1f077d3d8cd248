// The HTTP side of a case session, for a participant holding a join token: the party's consent
// to online mediation and recording, and evidence shared in the room. Every call carries the
// token as a bearer token; a refusal comes back as the server's `{code, message}`.

import type { SharedEvidence } from '../signal/messages';

export interface ConsentState {
  required: boolean;
  consented_at?: number;
  version?: string | number;
}

/** `GET /api/v1/room/info`; empty for a room that is no case's session. */
export interface RoomInfo {
  case_title?: string;
  organisation?: string;
  mediator?: string;
}

/** A refused or failed call: the server's code, or `network` when there was no answer. */
export class RoomApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

export interface Upload {
  done: Promise<SharedEvidence>;
  abort(): void;
}

export class RoomApi {
  constructor(
    private readonly token: string,
    private readonly base = '',
  ) {}

  consent(): Promise<ConsentState> {
    return this.json<ConsentState>('GET', '/api/v1/room/consent');
  }

  /** What the device check greets the holder with: their case's title, organisation, mediator. */
  info(): Promise<RoomInfo> {
    return this.json<RoomInfo>('GET', '/api/v1/room/info');
  }

  /** Records the party's agreement to both points of 在线调解规则 第四条. */
  async giveConsent(): Promise<void> {
    await this.json('POST', '/api/v1/room/consent', { online_mediation: true, recording: true });
  }

  /**
   * Uploads a file as evidence shared in our space. XMLHttpRequest, not fetch: a phone photo
   * over weak 4G takes a while, and only XHR reports upload progress.
   */
  uploadEvidence(file: File, onProgress: (fraction: number) => void): Upload {
    const xhr = new XMLHttpRequest();
    const done = new Promise<SharedEvidence>((resolve, reject) => {
      xhr.open('POST', `${this.base}/api/v1/room/evidence`);
      xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable && ev.total > 0) onProgress(ev.loaded / ev.total);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve(JSON.parse(xhr.responseText) as SharedEvidence);
          } catch {
            reject(new RoomApiError('bad_response', 'the server answered something unreadable', xhr.status));
          }
        } else reject(errorFrom(xhr.status, xhr.responseText));
      };
      xhr.onerror = () => reject(new RoomApiError('network', 'no answer from the server'));
      xhr.onabort = () => reject(new RoomApiError('aborted', 'upload cancelled'));
      const body = new FormData();
      body.append('file', file, file.name);
      xhr.send(body);
    });
    return { done, abort: () => xhr.abort() };
  }

  /** A shared file's content; the page shows it through a blob URL it revokes itself. */
  async evidenceBlob(id: string): Promise<Blob> {
    const response = await this.request('GET', `/api/v1/room/evidence/${encodeURIComponent(id)}`);
    return response.blob();
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new RoomApiError('bad_response', 'the server answered something unreadable', response.status);
    }
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new RoomApiError('network', 'no answer from the server');
    }
    if (!response.ok) throw errorFrom(response.status, await response.text().catch(() => ''));
    return response;
  }
}

/** The server's `{code, message}`; a proxy's HTML error page becomes a code from its status. */
export function errorFrom(status: number, text: string): RoomApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') {
      return new RoomApiError(body.code, typeof body.message === 'string' ? body.message : '', status);
    }
  } catch {
    // not JSON: fall through
  }
  return new RoomApiError(`http_${status}`, text.slice(0, 200), status);
}
