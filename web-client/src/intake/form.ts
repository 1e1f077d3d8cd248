// The online intake form's rules, kept apart from the page so they can be tested: what each
// field must hold (the same checks the server makes, so most mistakes are caught before a
// phone spends data on the upload), and how the server's field errors map back to fields.

export const MAX_FILES = 9;
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const ACCEPTED_FILES = 'image/jpeg,image/png,image/webp,image/heic,image/heif,application/pdf,image/*';

export const CATEGORIES = [
  'family',
  'neighbours',
  'labour',
  'property',
  'consumer',
  'traffic',
  'medical',
  'contract',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface IntakeForm {
  applicantName: string;
  applicantPhone: string;
  idNumber: string;
  respondentName: string;
  respondentPhone: string;
  respondentKind: 'person' | 'organisation';
  region: string;
  category: Category | '';
  facts: string;
  claims: string;
}

/** The server's names of the fields, which its 422 answers use. */
export type FieldName =
  | 'applicant.name'
  | 'applicant.phone'
  | 'applicant.id_number'
  | 'respondent.name'
  | 'respondent.phone'
  | 'respondent.kind'
  | 'region'
  | 'category'
  | 'facts'
  | 'claims'
  | 'photos';

export type Problem = 'required' | 'tooLong' | 'phone' | 'idNumber' | 'region' | 'tooMany' | 'invalid';
export type Problems = Partial<Record<FieldName, Problem>>;

export function emptyForm(): IntakeForm {
  return {
    applicantName: '',
    applicantPhone: '',
    idNumber: '',
    respondentName: '',
    respondentPhone: '',
    respondentKind: 'person',
    region: '',
    category: '',
    facts: '',
    claims: '',
  };
}

export function normalisePhone(phone: string): string {
  const digits = phone.replace(/[\s\-()]/g, '');
  return digits.replace(/^(\+86|0086)/, '');
}

export function isMobile(phone: string): boolean {
  return /^1[3-9]\d{9}$/.test(phone);
}

function isLandline(phone: string): boolean {
  return /^0\d{9,11}$/.test(phone);
}

/** An 18-character resident ID number with a correct check character (GB 11643). */
export function isIdNumber(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((acc, w, i) => acc + w * Number(id[i]), 0);
  return '10X98765432'[sum % 11] === id[17];
}

function text(value: string, max: number): Problem | undefined {
  const trimmed = value.trim();
  if (!trimmed) return 'required';
  return [...trimmed].length > max ? 'tooLong' : undefined;
}

/** Every problem of the form at once; empty when it may be sent. */
export function validate(form: IntakeForm, fileCount = 0): Problems {
  const problems: Problems = {};
  const put = (field: FieldName, problem: Problem | undefined) => {
    if (problem) problems[field] = problem;
  };
  put('applicant.name', text(form.applicantName, 50));
  const phone = normalisePhone(form.applicantPhone);
  put('applicant.phone', !phone ? 'required' : isMobile(phone) ? undefined : 'phone');
  const id = form.idNumber.trim().toUpperCase();
  put('applicant.id_number', id && !isIdNumber(id) ? 'idNumber' : undefined);
  put('respondent.name', text(form.respondentName, 100));
  const other = normalisePhone(form.respondentPhone);
  put('respondent.phone', other && !isMobile(other) && !isLandline(other) ? 'phone' : undefined);
  put('region', form.region ? undefined : 'required');
  put('category', form.category ? undefined : 'required');
  put('facts', text(form.facts, 5000));
  put('claims', text(form.claims, 2000));
  put('photos', fileCount > MAX_FILES ? 'tooMany' : undefined);
  return problems;
}

/** The `application` field the server takes. */
export function toApplication(form: IntakeForm): Record<string, unknown> {
  const id = form.idNumber.trim().toUpperCase();
  const other = normalisePhone(form.respondentPhone);
  return {
    applicant: {
      name: form.applicantName.trim(),
      phone: normalisePhone(form.applicantPhone),
      ...(id ? { id_number: id } : {}),
    },
    respondent: {
      name: form.respondentName.trim(),
      kind: form.respondentKind,
      ...(other ? { phone: other } : {}),
    },
    region: form.region,
    category: form.category,
    facts: form.facts.trim(),
    claims: form.claims.trim(),
  };
}

const FIELD_NAMES = new Set<string>([
  'applicant.name',
  'applicant.phone',
  'applicant.id_number',
  'respondent.name',
  'respondent.phone',
  'respondent.kind',
  'region',
  'category',
  'facts',
  'claims',
  'photos',
]);

/** The server's `fields` as problems the page shows in the visitor's language. */
export function problemsFromServer(fields: readonly { field: string; message: string }[]): Problems {
  const problems: Problems = {};
  for (const { field, message } of fields) {
    if (!FIELD_NAMES.has(field)) continue;
    const name = field as FieldName;
    if (message === 'required') problems[name] = 'required';
    else if (message === 'too long') problems[name] = 'tooLong';
    else if (name === 'region') problems[name] = 'region';
    else if (name === 'photos') problems[name] = 'tooMany';
    else if (name.endsWith('phone')) problems[name] = 'phone';
    else if (name === 'applicant.id_number') problems[name] = 'idNumber';
    else problems[name] = 'invalid';
  }
  return problems;
}

/** One key per application, kept across retries so the server stores it once. */
export function newIdempotencyKey(random: () => string = () => crypto.randomUUID()): string {
  return `intake-${random()}`;
}

/** Tracking codes as people type them: any case, with spaces or dashes. */
export function normaliseTrackingCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

export function looksLikeTrackingCode(code: string): boolean {
  return /^[2-9A-HJKMNP-Z]{10}$/.test(code);
}
