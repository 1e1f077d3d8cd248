// The staff API client: tokens kept for the tab (access) and the browser (refresh), one
// silent refresh when an access token has run out, and failures told apart so pages can put
// field errors next to their fields.

export interface StaffMember {
  id: string;
  username: string;
  display_name: string;
  role: 'administrator' | 'mediator' | 'court';
  organisation_id: string | null;
  court: string | null;
  disabled_at?: number | null;
}

export interface Organisation {
  id: string;
  name: string;
  short_name: string;
  region: string;
  channel: string;
  court: string | null;
}

export interface Case {
  id: string;
  number: string;
  organisation_id: string;
  mediator_id: string | null;
  category: string;
  channel: string;
  region: string;
  risk: 'red' | 'yellow' | 'blue';
  status: string;
  title: string;
  facts: string;
  claims: string;
  tracking_code: string | null;
  court: string | null;
  created_at: number;
  updated_at: number;
}

export interface Party {
  id: string;
  side: 'applicant' | 'respondent';
  kind: string;
  name: string;
  phone: string | null;
  id_number_masked: string | null;
  represents: string | null;
  /** A representative's power of attorney, once uploaded: the file's SHA-256. */
  attorney_letter: string | null;
}

export interface Session {
  id: string;
  case_id: string;
  room: string;
  scheduled_at: number;
  status: string;
}

export interface Evidence {
  id: string;
  party_id: string | null;
  media_type: string;
  size: number;
  file_name: string;
  uploaded_by: string;
  created_at: number;
}

/** One entry of a session's record (笔录), as the server wrote it when it happened. */
export interface SessionEvent {
  id: string;
  seq: number;
  session_id: string;
  case_id: string;
  at: number;
  kind: string;
  /** A party id for parties, a staff id for staff. */
  actor_identity: string | null;
  actor_name: string | null;
  /** The role in the room: mediator, party, observer, guest. */
  actor_role: string | null;
  subject_identity: string | null;
  subject_name: string | null;
  /** joint, applicant or respondent. */
  space: string | null;
  detail: string | null;
}

export interface CaseDetail {
  case: Case;
  parties: Party[];
  sessions: Session[];
  evidence: Evidence[];
  next_statuses: string[];
  mediator: StaffMember | null;
  organisation: Organisation;
}

export interface Invite {
  id: string;
  session_id: string;
  party_id: string;
  name: string;
  side: string;
  kind: string;
  link: string;
  expires_at: number;
  revoked_at: number | null;
  status: 'active' | 'revoked' | 'expired';
  message: string;
}

export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  detail: string;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** A refused request: the HTTP status, the server's code and message, and field errors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** Field errors by field name, for forms. */
  byField(): Record<string, string> {
    return Object.fromEntries(this.fields.map((f) => [f.field, f.message]));
  }
}

/** A failure already put in words for staff (the page shows its message as it is). */
export class Notice extends Error {}

interface SignedIn {
  access_token: string;
  staff: StaffMember;
}

/**
 * Where the tokens live; injectable for tests. The refresh token itself is in an HttpOnly
 * cookie the server sets, out of reach of any script; `refresh` only remembers that the
 * browser holds one, so a signed-out page does not ask for a refresh it cannot get.
 */
export interface TokenStore {
  access: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  refresh: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

const ACCESS = 'accord.staff.access';
const REFRESH = 'accord.staff.signed-in';
const ME = 'accord.staff.me';

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export class StaffClient {
  constructor(
    private readonly tokens: TokenStore,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {}

  /** The signed-in staff member, as remembered from sign-in. */
  me(): StaffMember | null {
    const text = this.tokens.access.getItem(ME);
    if (!text || !this.tokens.refresh.getItem(REFRESH)) return null;
    try {
      return JSON.parse(text) as StaffMember;
    } catch {
      return null;
    }
  }

  /**
   * The signed-in staff member, resuming with the browser's refresh token when this tab has
   * not signed in yet (a case opened in a new tab); null when there is nothing to resume.
   */
  async resume(): Promise<StaffMember | null> {
    const known = this.me();
    if (known || !this.tokens.refresh.getItem(REFRESH)) return known;
    return (await this.refresh()) ? this.me() : null;
  }

  private remember(signedIn: SignedIn): StaffMember {
    this.tokens.access.setItem(ACCESS, signedIn.access_token);
    this.tokens.access.setItem(ME, JSON.stringify(signedIn.staff));
    this.tokens.refresh.setItem(REFRESH, '1');
    // Earlier versions kept the refresh token itself here.
    this.tokens.refresh.removeItem('accord.staff.refresh');
    return signedIn.staff;
  }

  /**
   * The `authorization` header of a call as the signed-in staff member, for code that sends its
   * own requests (the signing flow): it reads the token where this client keeps it.
   */
  authorization(): string {
    return `Bearer ${this.tokens.access.getItem(ACCESS) ?? ''}`;
  }

  forget(): void {
    this.tokens.access.removeItem(ACCESS);
    this.tokens.access.removeItem(ME);
    this.tokens.refresh.removeItem(REFRESH);
  }

  async setupNeeded(): Promise<boolean> {
    const body = await this.send<{ needed: boolean }>('GET', '/api/v1/setup', undefined, false);
    return body.needed;
  }

  async setup(username: string, displayName: string, password: string): Promise<StaffMember> {
    const body = { username, display_name: displayName, password, refresh_cookie: true };
    return this.remember(await this.send<SignedIn>('POST', '/api/v1/setup', body, false));
  }

  async login(username: string, password: string): Promise<StaffMember> {
    const body = { username, password, refresh_cookie: true };
    return this.remember(await this.send<SignedIn>('POST', '/api/v1/auth/login', body, false));
  }

  async logout(): Promise<void> {
    const signedIn = this.tokens.refresh.getItem(REFRESH);
    this.forget();
    // The server revokes the cookie's token and clears the cookie.
    if (signedIn) await this.send('POST', '/api/v1/auth/logout', {}, false).catch(() => undefined);
  }

  /** A call as the signed-in staff member; one refresh and retry if the access token expired. */
  async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    try {
      return await this.send<T>(method, path, body, true, headers);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !(await this.refresh())) throw error;
      return this.send<T>(method, path, body, true, headers);
    }
  }

  /** A binary resource (an evidence file, a QR code) as a blob. */
  async blob(path: string): Promise<Blob> {
    const get = () =>
      this.fetcher(path, { headers: { authorization: `Bearer ${this.tokens.access.getItem(ACCESS) ?? ''}` } });
    let response = await get();
    if (response.status === 401 && (await this.refresh())) response = await get();
    if (!response.ok) throw await errorOf(response);
    return response.blob();
  }

  /** Uploads one evidence file to a case. */
  upload(caseId: string, file: File, partyId?: string): Promise<Evidence> {
    return this.uploadTo<Evidence>(`/api/v1/cases/${encodeURIComponent(caseId)}/evidence`, file, partyId ? { party_id: partyId } : {});
  }

  /** Posts one file (multipart field `file`) with any other fields to `path`. */
  async uploadTo<T>(path: string, file: File, fields: Record<string, string> = {}): Promise<T> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', file, file.name);
    const post = () =>
      this.fetcher(path, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${this.tokens.access.getItem(ACCESS) ?? ''}` },
      });
    let response = await post();
    if (response.status === 401 && (await this.refresh())) response = await post();
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as T;
  }

  private refreshing: Promise<boolean> | null = null;

  /** Trades the refresh token for new tokens; concurrent callers share one attempt. */
  private refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      if (!this.tokens.refresh.getItem(REFRESH)) return false;
      try {
        // The browser sends the refresh cookie; the answer sets the next one.
        this.remember(await this.send<SignedIn>('POST', '/api/v1/auth/refresh', {}, false));
        return true;
      } catch {
        this.forget();
        return false;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async send<T>(
    method: string,
    path: string,
    body: unknown,
    authorised: boolean,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const all: Record<string, string> = { ...headers };
    if (body !== undefined) all['content-type'] = 'application/json';
    if (authorised) all.authorization = `Bearer ${this.tokens.access.getItem(ACCESS) ?? ''}`;
    let response: Response;
    try {
      response = await this.fetcher(path, {
        method,
        headers: all,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'network');
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { code?: string; message?: string; fields?: FieldProblem[] };
    return new ApiError(response.status, body.code ?? 'unknown', body.message ?? response.statusText, body.fields ?? []);
  } catch {
    return new ApiError(response.status, 'unknown', response.statusText);
  }
}

/** A key for one create, kept across retries of it so a repeat never makes a second record. */
export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * One create behind a form (a case, a session): every retry of it carries the same
 * idempotency key, so an answer lost on the way and a button pressed again make one record;
 * a refused form (422, corrected next) and a done create start a new key.
 */
export class KeyedCreate {
  private key: string;

  constructor(
    private readonly client: StaffClient,
    private readonly newKey: () => string = newIdempotencyKey,
  ) {
    this.key = newKey();
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    try {
      const created = await this.client.call<T>('POST', path, body, { 'idempotency-key': this.key });
      this.key = this.newKey();
      return created;
    } catch (error) {
      // A refused form is corrected and sent anew; so is one whose key the server saw with
      // other content (an answer lost, then the form changed): nothing of it was stored.
      if (error instanceof ApiError && (error.status === 422 || error.code === 'idempotency_key_reused')) {
        this.key = this.newKey();
      }
      throw error;
    }
  }
}

/** The start of a calendar day (`yyyy-mm-dd`) in Beijing time, as Unix milliseconds. */
export function chinaDayStart(day: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  const [, y, m, d] = match;
  return Date.UTC(Number(y), Number(m) - 1, Number(d)) - 8 * 3600 * 1000;
}

/** A `datetime-local` value read as Beijing time, as Unix milliseconds. */
export function chinaDateTime(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!match) return null;
  const [, y, m, d, hh, mm] = match;
  return Date.UTC(Number(y), Number(m) - 1, Number(d), Number(hh), Number(mm)) - 8 * 3600 * 1000;
}

/** Unix milliseconds as `yyyy-mm-dd hh:mm` in Beijing time. */
export function formatChinaTime(ms: number): string {
  const t = new Date(ms + 8 * 3600 * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}`;
}

/** The client for this tab. */
export function browserClient(): StaffClient {
  return new StaffClient({ access: sessionStorage, refresh: localStorage });
}
