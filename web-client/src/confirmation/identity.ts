// Proofs of identity (身份证明) for the court: the party's optional uploads on the phone, before
// they apply, and the words both that panel and the staff section use. The files themselves are
// only ever fetched with credentials in a header and shown through a blob URL.

import { errorCode, errorStatus } from '../agreement/api';
import { hasMessage, type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { type ConfirmationApi, problemText } from './api';
import { noteError } from './test-hook';
import type { ConfirmationView, IdentityProofKind, IdentityProofView } from './types';
import { applying } from './window-text';

/**
 * What the server takes (judged there by the bytes, not the name). Asking for these types, not
 * `image/*`, makes iOS hand over a JPEG when the photo library holds HEIC.
 */
export const IDENTITY_ACCEPT = 'image/jpeg,image/png,application/pdf';
const ACCEPTED_TYPES = new Set(IDENTITY_ACCEPT.split(','));
/** The server's MAX_IDENTITY_PROOFS: more is refused with `too_many_identity_proofs`. */
export const MAX_IDENTITY_PROOFS = 4;

export const IDENTITY_KINDS: readonly IdentityProofKind[] = ['id_card_front', 'id_card_back', 'other'];

/** The proofs this viewer may see; an older server without them shows none. */
export function proofsOf(view: ConfirmationView): IdentityProofView[] {
  return view.identity_proofs ?? [];
}

export function kindText(kind: string): string {
  const key = `confirm.identity.kind.${kind}`;
  return hasMessage(key) ? t(key as MessageKey) : kind;
}

/** A file's size as a person reads it: 312 KB, 2.4 MB. */
export function sizeText(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Why an upload failed, in the uploader's words. A body cut off at the size limit may come back
 * without the JSON error, so the status is read too.
 */
export function identityProblem(error: unknown): string {
  const status = errorStatus(error);
  let code = errorCode(error);
  if (status === 413) code = 'payload_too_large';
  if (status === 415) code = 'unsupported_media_type';
  const key = `confirm.identity.error.${code}`;
  return hasMessage(key) ? t(key as MessageKey) : problemText(error);
}

/**
 * A file the server will refuse for its type, caught before it goes over a phone's connection.
 * An empty type (some browsers give none) is left for the server to judge.
 */
export function refusedType(file: File): boolean {
  return file.type !== '' && !ACCEPTED_TYPES.has(file.type);
}

/** The party's panel, kept across the flow's redraws so an upload in flight is not lost. */
export class IdentityUploads {
  readonly el: HTMLElement;
  private view: ConfirmationView | null = null;
  private partyId: string | null = null;
  private busy = false;
  private problem = '';
  private readonly inputs: Record<IdentityProofKind, HTMLInputElement>;

  constructor(
    private readonly api: ConfirmationApi,
    private readonly agreementId: string,
    /** Fetches the view again after a change (the counts and `may_remove` come from it). */
    private readonly changed: () => Promise<void>,
  ) {
    this.el = h('section', { class: 'cf-identity', 'data-testid': 'identity-proofs', hidden: true });
    const input = (kind: IdentityProofKind, testId: string) => {
      const element = h('input', { type: 'file', accept: IDENTITY_ACCEPT, class: 'visually-hidden', 'data-testid': testId, 'data-kind': kind });
      element.addEventListener('change', () => {
        const file = element.files?.[0];
        // Cleared at once, so choosing the same file again after a refusal is a change too.
        element.value = '';
        if (file) void this.upload(kind, file);
      });
      return element;
    };
    this.inputs = {
      id_card_front: input('id_card_front', 'identity-upload-front'),
      id_card_back: input('id_card_back', 'identity-upload-back'),
      other: input('other', 'identity-upload-other'),
    };
  }

  /**
   * Draws from `view`; `partyId` is whom the uploads are for when the viewer applies for
   * several (a representative), else null for themselves.
   */
  render(view: ConfirmationView | null, partyId: string | null): void {
    this.view = view;
    this.partyId = partyId;
    this.draw();
  }

  private target(view: ConfirmationView): string | null {
    const ids = view.me.for_party_ids;
    if (this.partyId && ids.includes(this.partyId)) return this.partyId;
    return ids[0] ?? null;
  }

  private draw(): void {
    const view = this.view;
    const proofs = view ? proofsOf(view) : [];
    const open = !!view && view.me.kind === 'party' && view.me.for_party_ids.length > 0 && applying(view);
    // After submission the list still says what went to the court.
    this.el.hidden = !view || view.me.kind !== 'party' || (!open && proofs.length === 0);
    if (!view || this.el.hidden) {
      this.el.replaceChildren();
      return;
    }
    const several = view.me.for_party_ids.length > 1;
    const target = this.target(view);
    const nameOf = (id: string) => view.applicants.find((a) => a.party_id === id)?.name ?? '';
    const count = proofs.filter((p) => p.party_id === target).length;
    const full = count >= MAX_IDENTITY_PROOFS;
    const labels: Record<IdentityProofKind, MessageKey> = {
      id_card_front: 'confirm.identity.uploadFront',
      id_card_back: 'confirm.identity.uploadBack',
      other: 'confirm.identity.uploadOther',
    };
    for (const kind of IDENTITY_KINDS) this.inputs[kind].disabled = this.busy || full;
    const parts: (HTMLElement | null)[] = [
      h('h4', { text: t('confirm.identity.title') }),
      open ? h('p', { class: 'cf-muted cf-small', text: t('confirm.identity.explain') }) : null,
      open && several && target ? h('p', { class: 'cf-identity-for', text: t('confirm.identity.forParty', { name: nameOf(target) }) }) : null,
      proofs.length
        ? h(
            'ul',
            { class: 'cf-identity-list' },
            proofs.map((proof) =>
              h('li', { 'data-testid': 'identity-proof', 'data-id': proof.id, 'data-kind': proof.kind, 'data-party': proof.party_id }, [
                h('span', { class: 'cf-identity-what', text: `${several ? `${nameOf(proof.party_id)} · ` : ''}${kindText(proof.kind)} · ${sizeText(proof.size)}` }),
                proof.may_remove
                  ? h('button', {
                      type: 'button',
                      class: 'secondary cf-identity-remove',
                      'data-testid': 'identity-remove',
                      disabled: this.busy,
                      text: t('confirm.identity.remove'),
                      onclick: () => void this.remove(proof.id),
                    })
                  : null,
              ]),
            ),
          )
        : open
          ? h('p', { class: 'cf-muted', text: t('confirm.identity.none') })
          : null,
      open && full ? h('p', { class: 'cf-muted', 'data-testid': 'identity-full', text: t('confirm.identity.full', { n: String(count) }) }) : null,
      open
        ? h(
            'div',
            { class: 'cf-identity-buttons' },
            IDENTITY_KINDS.map((kind) =>
              h('label', { class: `button secondary cf-pick${this.inputs[kind].disabled ? ' cf-disabled' : ''}` }, [this.inputs[kind], h('span', { text: t(labels[kind]) })]),
            ),
          )
        : null,
      this.busy ? h('p', { class: 'cf-muted', role: 'status', text: t('confirm.identity.uploading') }) : null,
      this.problem ? h('p', { class: 'cf-problem', role: 'alert', 'data-testid': 'identity-error', text: this.problem }) : null,
    ];
    this.el.replaceChildren(...parts.filter((node): node is HTMLElement => node !== null));
  }

  private async upload(kind: IdentityProofKind, file: File): Promise<void> {
    const view = this.view;
    if (!view || this.busy) return;
    if (refusedType(file)) {
      noteError('unsupported_media_type');
      this.problem = t('confirm.identity.error.unsupported_media_type');
      this.draw();
      return;
    }
    // A representative names the party; a party uploading for themselves needs not.
    const target = view.me.for_party_ids.length > 1 ? this.target(view) : null;
    await this.change(() => this.api.uploadIdentityProof(this.agreementId, file, kind, target ?? undefined));
  }

  private remove(proofId: string): Promise<void> {
    return this.change(() => this.api.removeIdentityProof(this.agreementId, proofId));
  }

  private async change(send: () => Promise<unknown>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.problem = '';
    this.draw();
    try {
      await send();
      noteError(null);
    } catch (error) {
      noteError(errorCode(error));
      this.problem = identityProblem(error);
    } finally {
      this.busy = false;
    }
    // The flow redraws this panel with the new view; a failed fetch leaves the old one drawn.
    await this.changed();
    this.draw();
  }
}
