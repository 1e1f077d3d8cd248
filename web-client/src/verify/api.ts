// The public verification lookup: an agreement named by the SHA-256 of its text.

export interface PublicSigner {
  name_masked: string;
  role: 'party' | 'representative' | 'mediator';
  signed_at: number;
}

export interface PublicStatus {
  genuine: boolean;
  status: 'final' | 'in_force' | 'superseded' | null;
  effective_at: number | null;
  organisation: string | null;
  signers: PublicSigner[];
  /** The judicial confirmation of this text's agreement, when the server says (absent from older servers). */
  confirmation?: PublicConfirmation | null;
}

/** Where a request for judicial confirmation stands; public, so no names or numbers. */
export interface PublicConfirmation {
  status: string;
  court: string | null;
  decided_at: number | null;
}

export type Lookup = { kind: 'found'; status: PublicStatus } | { kind: 'badHash' } | { kind: 'busy' };

/** The hash of a `/v/<sha256>` path, lowercased, or null when the path does not name one. */
export function hashFromPath(pathname: string): string | null {
  const match = /^\/v\/([0-9a-fA-F]{64})\/?$/.exec(pathname);
  return match ? match[1].toLowerCase() : null;
}

export async function lookUp(sha256: string, fetcher: typeof fetch = fetch): Promise<Lookup> {
  const response = await fetcher(`/api/v1/public/agreements/${sha256}`);
  if (response.status === 400) return { kind: 'badHash' };
  if (response.status === 429) return { kind: 'busy' };
  if (!response.ok) throw new Error(`verify: ${response.status}`);
  return { kind: 'found', status: (await response.json()) as PublicStatus };
}
