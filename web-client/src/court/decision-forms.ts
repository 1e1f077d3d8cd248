// The court's decisions on a request, each a small form: 受理 with the court case number,
// 延长审查期限 with a reason (once), 确认有效 with the ruling's number, date and document, and
// 驳回 with reasons. Which forms show follows the request's status, as the server's state rules
// do (a refused one still comes back as `request_state`). Validation mirrors the server's
// limits so a clerk learns of a too-long number before sending, not after.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { ApiError } from '../staff/api';
import type { CourtRequest } from './types';

/** The largest ruling document the server takes (route 13). */
export const MAX_RULING_BYTES = 20 * 1024 * 1024;

/** Field errors by field name; empty when the form may be sent. */
export type FieldErrors = Record<string, string>;

/** Length as the server counts it: characters (code points), after trimming. */
function length(text: string): number {
  return [...text.trim()].length;
}

function checkLength(errors: FieldErrors, field: string, value: string, min: number, max: number, optional = false): void {
  const n = length(value);
  if (optional && n === 0) return;
  if (n === 0) errors[field] = t('court.field.required');
  else if (n < min || n > max) errors[field] = t('court.field.length', { min: String(min), max: String(max) });
}

/** A real calendar day written `YYYY-MM-DD`, as a date input gives it. */
export function isCalendarDay(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export function validateAccept(courtCaseNumber: string): FieldErrors {
  const errors: FieldErrors = {};
  checkLength(errors, 'court_case_number', courtCaseNumber, 1, 60);
  return errors;
}

export function validateExtend(reason: string): FieldErrors {
  const errors: FieldErrors = {};
  checkLength(errors, 'reason', reason, 2, 500);
  return errors;
}

/** What the server takes as a ruling document (it checks the bytes; this checks the type first). */
const RULING_MEDIA_TYPES = ['application/pdf', 'image/png', 'image/jpeg', 'image/webp'];

/** A ruling document: a PDF or a PNG, JPEG or WebP picture of at most 20 MiB. */
function checkRulingFile(errors: FieldErrors, file: { type: string; size: number } | null, optional: boolean): void {
  if (!file) {
    if (!optional) errors.ruling_file = t('court.field.file');
    return;
  }
  if (!RULING_MEDIA_TYPES.includes(file.type)) errors.ruling_file = t('court.field.fileType');
  else if (file.size > MAX_RULING_BYTES) errors.ruling_file = t('court.field.fileSize');
}

export function validateConfirm(rulingNumber: string, rulingDate: string, file: { type: string; size: number } | null): FieldErrors {
  const errors: FieldErrors = {};
  checkLength(errors, 'ruling_number', rulingNumber, 1, 60);
  if (!isCalendarDay(rulingDate)) errors.ruling_date = t('court.field.date');
  checkRulingFile(errors, file, false);
  return errors;
}

export function validateReject(reasons: string, rulingNumber: string, file: { type: string; size: number } | null): FieldErrors {
  const errors: FieldErrors = {};
  checkLength(errors, 'reasons', reasons, 2, 2000);
  checkLength(errors, 'ruling_number', rulingNumber, 1, 60, true);
  checkRulingFile(errors, file, true);
  return errors;
}

/** What the forms do; the page supplies the calls, tests supply fakes. */
export interface DecisionActions {
  accept(courtCaseNumber: string): Promise<unknown>;
  extend(reason: string): Promise<unknown>;
  /** Uploads the ruling, then confirms naming its hash. */
  confirm(rulingNumber: string, rulingDate: string, file: File): Promise<unknown>;
  /** Uploads the ruling when there is one, then rejects. */
  reject(reasons: string, rulingNumber: string | null, file: File | null): Promise<unknown>;
  /** Asks before a decision that cannot be undone (window.confirm in the page). */
  ask(question: string): boolean;
  /** After a decision: the page loads the request again. */
  done(): void;
}

/** A refused decision in words: the server's message, or the app's for a known code. */
export function refusalText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'network') return t('error.network');
    return t('staff.error.generic', { message: error.message || error.code });
  }
  return t('error.network');
}

interface Field {
  name: string;
  label: MessageKey;
  testid: string;
  input: HTMLInputElement | HTMLTextAreaElement;
}

/**
 * One form: its fields, a submit button, field errors beside the fields and a refusal
 * under the button. `send` validates, may ask, and returns the call, or null to stop.
 */
function decisionForm(
  title: MessageKey,
  fields: Field[],
  submit: { label: MessageKey; testid: string; danger?: boolean },
  send: (show: (errors: FieldErrors) => void) => Promise<unknown> | null,
  done: () => void,
): HTMLElement {
  const errorOf = new Map<string, HTMLElement>();
  const refusal = h('p', { class: 'field-error', role: 'alert', hidden: true, 'data-testid': `${submit.testid}-error` });
  const button = h('button', { type: 'submit', class: submit.danger ? 'danger' : 'primary', 'data-testid': submit.testid, text: t(submit.label) });
  const show = (errors: FieldErrors) => {
    for (const [name, el] of errorOf) {
      el.textContent = errors[name] ?? '';
      el.hidden = !errors[name];
    }
  };
  const form = h(
    'form',
    {
      class: 'court-decision',
      'data-testid': `${submit.testid}-form`,
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (button.disabled) return;
        refusal.hidden = true;
        const call = send(show);
        if (!call) return;
        button.disabled = true;
        call
          .then(done)
          .catch((error: unknown) => {
            const fieldErrors = error instanceof ApiError ? error.byField() : {};
            show(fieldErrors);
            refusal.textContent = refusalText(error);
            refusal.hidden = false;
          })
          .finally(() => {
            button.disabled = false;
          });
      },
    },
    [
      h('h3', { text: t(title) }),
      ...fields.map((field) => {
        const error = h('p', { class: 'field-error', hidden: true, 'data-testid': `${field.testid}-problem` });
        errorOf.set(field.name, error);
        field.input.id = `court-${field.name}-${submit.testid}`;
        return h('div', { class: 'field' }, [h('label', { for: field.input.id, text: t(field.label) }), field.input, error]);
      }),
      button,
      refusal,
    ],
  );
  return form;
}

function input(testid: string, type = 'text', extra: Record<string, string> = {}): HTMLInputElement {
  return h('input', { type, 'data-testid': testid, ...extra });
}

function textarea(testid: string, maxlength: number): HTMLTextAreaElement {
  return h('textarea', { rows: 3, maxlength, 'data-testid': testid });
}

const RULING_TYPES = RULING_MEDIA_TYPES.join(',');

/** The forms a request's status allows, or null when it is decided. */
export function decisionForms(request: Pick<CourtRequest, 'status' | 'extended'>, actions: DecisionActions): HTMLElement | null {
  const forms: HTMLElement[] = [];
  if (request.status === 'submitted' || request.status === 'received') {
    const number = input('court-case-number', 'text', { maxlength: '60' });
    forms.push(
      decisionForm('court.accept.title', [{ name: 'court_case_number', label: 'court.accept.caseNumber', testid: 'court-case-number', input: number }], { label: 'court.accept.submit', testid: 'court-accept' }, (show) => {
        const errors = validateAccept(number.value);
        show(errors);
        return Object.keys(errors).length ? null : actions.accept(number.value.trim());
      }, actions.done),
    );
  }
  if (request.status === 'accepted') {
    if (!request.extended) {
      const reason = textarea('court-extend-reason', 500);
      forms.push(
        decisionForm('court.extend.title', [{ name: 'reason', label: 'court.extend.reason', testid: 'court-extend-reason', input: reason }], { label: 'court.extend.submit', testid: 'court-extend' }, (show) => {
          const errors = validateExtend(reason.value);
          show(errors);
          return Object.keys(errors).length ? null : actions.extend(reason.value.trim());
        }, actions.done),
      );
    } else {
      forms.push(h('p', { class: 'court-extended', text: t('court.extend.done') }));
    }
    const rulingNumber = input('court-ruling-number', 'text', { maxlength: '60' });
    const rulingDate = input('court-ruling-date', 'date');
    const rulingFile = input('court-ruling-file', 'file', { accept: RULING_TYPES });
    forms.push(
      decisionForm(
        'court.confirm.title',
        [
          { name: 'ruling_number', label: 'court.confirm.rulingNumber', testid: 'court-ruling-number', input: rulingNumber },
          { name: 'ruling_date', label: 'court.confirm.rulingDate', testid: 'court-ruling-date', input: rulingDate },
          { name: 'ruling_file', label: 'court.confirm.rulingFile', testid: 'court-ruling-file', input: rulingFile },
        ],
        { label: 'court.confirm.submit', testid: 'court-confirm' },
        (show) => {
          const file = rulingFile.files?.[0] ?? null;
          const errors = validateConfirm(rulingNumber.value, rulingDate.value, file);
          show(errors);
          if (Object.keys(errors).length || !file || !actions.ask(t('court.confirm.ask'))) return null;
          return actions.confirm(rulingNumber.value.trim(), rulingDate.value, file);
        },
        actions.done,
      ),
    );
  }
  if (request.status === 'submitted' || request.status === 'received' || request.status === 'accepted') {
    const reasons = textarea('court-reject-reasons', 2000);
    const rulingNumber = input('court-reject-ruling-number', 'text', { maxlength: '60' });
    // A ruling document can be stored only for an accepted request (route 13).
    const rulingFile = request.status === 'accepted' ? input('court-reject-ruling-file', 'file', { accept: RULING_TYPES }) : null;
    const fields: Field[] = [
      { name: 'reasons', label: 'court.reject.reasons', testid: 'court-reject-reasons', input: reasons },
      { name: 'ruling_number', label: 'court.reject.rulingNumber', testid: 'court-reject-ruling-number', input: rulingNumber },
    ];
    if (rulingFile) fields.push({ name: 'ruling_file', label: 'court.confirm.rulingFile', testid: 'court-reject-ruling-file', input: rulingFile });
    forms.push(
      decisionForm('court.reject.title', fields, { label: 'court.reject.submit', testid: 'court-reject', danger: true }, (show) => {
        const file = rulingFile?.files?.[0] ?? null;
        const errors = validateReject(reasons.value, rulingNumber.value, file);
        show(errors);
        if (Object.keys(errors).length || !actions.ask(t('court.reject.ask'))) return null;
        return actions.reject(reasons.value.trim(), rulingNumber.value.trim() || null, file);
      }, actions.done),
    );
  }
  if (forms.length === 0) return null;
  return h('section', { class: 'court-decisions', 'data-testid': 'court-decisions' }, [h('h2', { text: t('court.decide.title') }), ...forms]);
}
