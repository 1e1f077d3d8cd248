// The join link: `https://host/join#token=<JWT>`. The token sits in the fragment so it never
// reaches server logs, proxies or Referer headers.

export interface TokenClaims {
  sub: string;
  name?: string;
  room: string;
  role?: string;
  /** Present in tokens for a case session (invites, a started session). */
  case?: string;
  session?: string;
  exp?: number;
  nbf?: number;
}

export type LinkProblem = 'missing' | 'invalid' | 'expired' | 'not_yet';

export function tokenFromLocation(loc: { hash: string; search: string }): string | null {
  const fromHash = new URLSearchParams(loc.hash.replace(/^#/, '')).get('token');
  // `?token=` too: some chat apps strip fragments when they shorten or preview links.
  return fromHash || new URLSearchParams(loc.search).get('token');
}

/**
 * Reads the token's claims without verifying it (the server does that) so the page can greet
 * the person and spot an expired link before asking for the camera.
 */
export function readClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')))
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
        .join(''),
    );
    const claims = JSON.parse(json) as Partial<TokenClaims>;
    return typeof claims.room === 'string' && typeof claims.sub === 'string' ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

/** What is wrong with the link, judged at `nowSeconds`, or null if it looks usable. */
export function checkLink(token: string | null, nowSeconds: number): LinkProblem | null {
  if (!token) return 'missing';
  const claims = readClaims(token);
  if (!claims) return 'invalid';
  // A minute of slack: phone clocks are often a little off.
  if (claims.exp !== undefined && claims.exp + 60 < nowSeconds) return 'expired';
  if (claims.nbf !== undefined && claims.nbf - 60 > nowSeconds) return 'not_yet';
  return null;
}

export function joinUrl(origin: string, token: string): string {
  return `${origin}/join#token=${encodeURIComponent(token)}`;
}

export function webSocketUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

/**
 * Where the home page's "join" field leads: the join screen for whatever was pasted (the whole
 * link from an SMS or WeChat, with or without its surrounding text, or the join code alone),
 * or null when it holds no join code. Only the token is kept, so a pasted link to another host
 * never takes the person elsewhere.
 */
export function joinPathFor(input: string): string | null {
  const text = input.trim();
  const inLink = /[#?&]token=([^\s&#]+)/.exec(text)?.[1];
  let token = inLink ?? text;
  try {
    token = decodeURIComponent(token);
  } catch {
    return null;
  }
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) || !readClaims(token)) return null;
  return `/join#token=${encodeURIComponent(token)}`;
}
