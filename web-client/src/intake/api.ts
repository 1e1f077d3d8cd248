// The public intake API: the regions to pick from, submitting an application with its files,
// and following a case by tracking code. No login; nothing here is kept in the browser.

export interface Submitted {
  case_number: string;
  tracking_code: string;
  status: string;
}

export interface Tracked {
  case_number: string;
  status: string;
  history: { status: string; at: number }[];
}

/** Why a submission failed, for the page to say what to do. */
export type SubmitFailure =
  | { kind: 'fields'; fields: { field: string; message: string }[] }
  | { kind: 'fileType' }
  | { kind: 'fileSize' }
  | { kind: 'server' }
  | { kind: 'network' }
  // The key went with different content before (an answer lost, then the form changed):
  // nothing of this one was stored, and it goes again under a new key.
  | { kind: 'keyReused' };

export async function fetchRegions(): Promise<string[]> {
  const response = await fetch('/api/v1/regions');
  if (!response.ok) throw new Error(`regions: ${response.status}`);
  const body = (await response.json()) as { regions: string[] };
  return body.regions;
}

export async function submitIntake(
  application: Record<string, unknown>,
  files: readonly File[],
  idempotencyKey: string,
): Promise<{ ok: true; value: Submitted } | { ok: false; failure: SubmitFailure }> {
  const body = new FormData();
  body.append('application', JSON.stringify(application));
  for (const file of files) body.append('photos[]', file, file.name);
  let response: Response;
  try {
    response = await fetch('/api/v1/intake', {
      method: 'POST',
      headers: { 'Idempotency-Key': idempotencyKey },
      body,
    });
  } catch {
    return { ok: false, failure: { kind: 'network' } };
  }
  if (response.ok) return { ok: true, value: (await response.json()) as Submitted };
  if (response.status === 413) return { ok: false, failure: { kind: 'fileSize' } };
  if (response.status === 415) return { ok: false, failure: { kind: 'fileType' } };
  if (response.status === 409) {
    const error = (await response.json().catch(() => ({}))) as { code?: string };
    if (error.code === 'idempotency_key_reused') return { ok: false, failure: { kind: 'keyReused' } };
  }
  if (response.status === 422) {
    const error = (await response.json()) as { fields?: { field: string; message: string }[] };
    return { ok: false, failure: { kind: 'fields', fields: error.fields ?? [] } };
  }
  return { ok: false, failure: { kind: 'server' } };
}

/** The case behind a tracking code, `null` when there is none. */
export async function trackCase(code: string): Promise<Tracked | null> {
  const response = await fetch(`/api/v1/intake/${encodeURIComponent(code)}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`track: ${response.status}`);
  return (await response.json()) as Tracked;
}
