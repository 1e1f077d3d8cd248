// One signer's way through signing, the same on a party's phone and in the mediator's console:
// read to the end → (parties) free will confirmed by the mediator → identity → draw → sign →
// done, and the PDF once in force. The step comes from steps.ts; this file only draws it.

import { fingerprint } from '../agreement/format';
import { hasMessage, t } from '../i18n';
import { h } from '../screens/dom';
import { formatChinaTime } from '../staff/api';
import { type IdentityProof, SigningApi, SigningError } from './api';
import { toBase64 } from './encoding';
import { ReadGate } from './gate';
import { deviceKey, loadKey, signPayload } from './keys';
import { SignaturePad } from './pad';
import { type Progress, progressOf, resendWait, snapshot } from './progress';
import { type Step, signerOf, stepFor } from './steps';
import type { Agreement, Signer, Viewer } from './types';

export interface FlowHost {
  api: SigningApi;
  viewer: Viewer;
  agreement(): Agreement;
  /** Refetch the agreement and draw again. */
  refresh(): Promise<void>;
}

/** The server's words for a refusal: ours for codes we know, else the server's message. */
export function errorWords(error: unknown): { code: string; text: string } {
  if (error instanceof SigningError) {
    const key = `signing.error.${error.code}`;
    if (hasMessage(key)) return { code: error.code, text: t(key) };
    return { code: error.code, text: error.message || t('signing.error.other', { code: error.code }) };
  }
  return { code: 'client', text: t('signing.error.device') };
}

/** The version and short hash line: "第 2 版 · SHA-256 b5f11634e3c1129c…", as the PDF's footer. */
export function versionLine(agreement: Agreement): string {
  const final = agreement.final;
  if (!final) return '';
  return t('signing.versionLine', { version: String(final.version), hash: fingerprint(final.text_sha256) });
}

/** What a signer's row says about them: role, side, and whom they sign for. */
export function signerRole(signer: Signer, agreement: Agreement): string {
  const side = signer.side ? t(signer.side === 'applicant' ? 'signing.side.applicant' : 'signing.side.respondent') : '';
  if (signer.role === 'mediator') return t('signing.role.mediator');
  if (signer.role === 'representative') {
    const name = signer.represents_name ?? agreement.signers.find((s) => s.signer_id === signer.represents)?.name;
    return name ? t('signing.role.representativeOf', { side, name }) : t('signing.role.representative', { side });
  }
  return side || t('signing.role.party');
}

function isNode<T>(n: T | null): n is T {
  return n !== null;
}

export class SignerFlow {
  readonly element = h('section', { class: 'signing-flow', 'data-testid': 'signing-flow' });
  private shownKey = '';
  private gate: ReadGate | null = null;
  private pad: SignaturePad | null = null;
  private padListener: (() => void) | null = null;
  private message: { text: string; tone: 'error' | 'info' } | null = null;
  private busy = false;
  private hasKey = false;
  private checkedKeyFor = '';
  private countdown: ReturnType<typeof setInterval> | null = null;
  private disposed = false;

  constructor(private readonly host: FlowHost) {}

  private get agreement(): Agreement {
    return this.host.agreement();
  }

  private signer(): Signer | null {
    return signerOf(this.agreement, this.host.viewer);
  }

  private progress(): Progress | null {
    const signer = this.signer();
    return signer ? progressOf(this.agreement.id, this.agreement.version, signer.signer_id) : null;
  }

  step(): Step {
    const p = this.progress();
    return stepFor(this.agreement, this.host.viewer, { readDone: p?.readDone ?? false, hasKey: this.hasKey && !(p?.keyRejected ?? false) });
  }

  /** Draws the current step; a step already shown is left alone so typing and ink survive. */
  render(force = false): void {
    if (this.disposed) return;
    void this.checkKey();
    const step = this.step();
    snapshot.step = step;
    const signer = this.signer();
    const p = this.progress();
    const key = [
      step,
      this.agreement.version,
      this.agreement.status,
      signer?.status ?? '',
      String(signer?.attested_at),
      p?.otpSentTo ?? '',
      this.busy,
      this.message?.text ?? '',
    ].join('|');
    if (!force && key === this.shownKey) return;
    this.shownKey = key;
    this.stopCountdown();
    this.gate?.dispose();
    this.gate = null;
    if (step !== 'draw') {
      this.padListener?.();
      this.padListener = null;
      this.pad?.dispose();
      this.pad = null;
    }
    this.element.dataset.step = step;
    this.element.replaceChildren(...this.header(signer), ...this.body(step, signer).filter(isNode), ...this.notice());
  }

  dispose(): void {
    this.disposed = true;
    this.stopCountdown();
    this.gate?.dispose();
    this.pad?.dispose();
  }

  /** Whether this device holds a key for the current version (IndexedDB is asynchronous). */
  private async checkKey(): Promise<void> {
    const signer = this.signer();
    if (!signer) return;
    const name = `${this.agreement.id}:${this.agreement.version}:${signer.signer_id}`;
    if (this.checkedKeyFor === name) return;
    this.checkedKeyFor = name;
    let has = false;
    try {
      has = (await loadKey(this.agreement.id, this.agreement.version, signer.signer_id)) !== null;
    } catch {
      has = false; // no IndexedDB (a locked-down WebView): the identity step says so when it tries
    }
    if (has !== this.hasKey) {
      this.hasKey = has;
      this.render();
    }
  }

  private header(signer: Signer | null): Node[] {
    const agreement = this.agreement;
    return [
      h('h2', { class: 'signing-title', text: t('signing.title') }),
      h('p', { class: 'signing-version', 'data-testid': 'signing-version', text: versionLine(agreement) }),
      signer && signer.role === 'representative'
        ? h('p', { class: 'signing-for', 'data-testid': 'signing-for', text: t('signing.signingFor', { role: signerRole(signer, agreement) }) })
        : null,
    ].filter(isNode);
  }

  private notice(): Node[] {
    if (!this.message) return [];
    return [
      h('p', {
        class: `signing-message signing-message-${this.message.tone}`,
        role: this.message.tone === 'error' ? 'alert' : 'status',
        'data-testid': 'signing-message',
        text: this.message.text,
      }),
    ];
  }

  private body(step: Step, signer: Signer | null): (Node | null)[] {
    const agreement = this.agreement;
    switch (step) {
      case 'drafting':
        return [h('p', { text: t('signing.drafting') })];
      case 'not_e_signable':
        return [
          h('div', { class: 'signing-paper', 'data-testid': 'signing-not-e-signable' }, [
            h('p', { class: 'signing-strong', text: t('signing.paper.title') }),
            h('p', { text: t('signing.paper.law') }),
            h('p', { text: t('signing.paper.how') }),
            agreement.not_e_signable_reason ? h('p', { class: 'muted', text: agreement.not_e_signable_reason }) : null,
          ]),
        ];
      case 'in_force':
        return this.inForce();
      case 'not_signer':
        return [this.textBox(false), h('p', { class: 'signing-strong', 'data-testid': 'signing-not-signer', text: t('signing.notSigner') })];
      case 'cannot_sign': {
        const code = signer?.cannot_sign_reason ?? '';
        const key = `signing.cannot.${code}`;
        return [h('p', { class: 'signing-strong', role: 'alert', 'data-testid': 'signing-cannot', 'data-code': code, text: hasMessage(key) ? t(key) : t('signing.cannot.other', { code }) })];
      }
      case 'read':
        return this.read();
      case 'free_will':
        return [h('p', { class: 'signing-wait', 'data-testid': 'signing-free-will-wait', text: t('signing.freeWill.wait') }), this.declineBox()];
      case 'free_will_no':
        return [h('p', { class: 'signing-wait', 'data-testid': 'signing-free-will-no', text: t('signing.freeWill.no') }), this.declineBox()];
      case 'identity':
        return [...this.identity(), this.declineBox()];
      case 'draw':
        return [...this.draw(), this.declineBox()];
      case 'done':
        return [
          h('p', {
            class: 'signing-done',
            'data-testid': 'signing-done',
            text: t('signing.done', { time: signer?.signed_at ? formatChinaTime(signer.signed_at) : '' }),
          }),
          h('p', { class: 'muted', text: t('signing.doneWaiting') }),
        ];
      case 'declined':
        return [
          h('p', { class: 'signing-strong', 'data-testid': 'signing-declined', text: t('signing.declined') }),
          signer?.declined_reason ? h('p', { class: 'muted', text: signer.declined_reason }) : null,
        ].filter(isNode);
    }
  }

  /** The final text, scrollable; with `gated`, an end marker that opens the gate. */
  private textBox(gated: boolean): HTMLElement {
    const final = this.agreement.final;
    const marker = h('div', { class: 'signing-end', 'data-testid': 'signing-end', text: t('signing.read.end') });
    const box = h('div', { class: 'signing-text', tabindex: 0, 'data-testid': 'signing-text' }, [
      h('pre', { class: 'signing-text-body', text: final?.text ?? '' }),
      marker,
    ]);
    const p = this.progress();
    if (gated && !p?.seenEnd) {
      this.gate = new ReadGate();
      const gate = this.gate;
      gate.onOpen(() => {
        if (p) p.seenEnd = true;
        const next = this.element.querySelector<HTMLButtonElement>('[data-testid=signing-read-next]');
        if (next) next.disabled = false;
        this.element.querySelector('[data-testid=signing-read-hint]')?.remove();
      });
      // Observed once in the page: an observer on a detached node never fires.
      requestAnimationFrame(() => gate.watch(box, marker));
    }
    return box;
  }

  private read(): Node[] {
    const seen = this.progress()?.seenEnd ?? false;
    const next = h('button', {
      type: 'button',
      class: 'primary signing-big',
      'data-testid': 'signing-read-next',
      disabled: !seen,
      text: t('signing.read.next'),
      onclick: () => {
        const p = this.progress();
        if (p) p.readDone = true;
        this.message = null;
        this.render();
      },
    });
    return [
      this.textBox(true),
      seen ? null : h('p', { class: 'muted', 'data-testid': 'signing-read-hint', text: t('signing.read.hint') }),
      next,
      this.declineBox(),
    ].filter(isNode);
  }

  /** Parties may refuse; the mediator simply does not sign (the seal waits for them anyway). */
  private declineBox(): HTMLElement | null {
    if (this.host.viewer.kind === 'staff') return null;
    return this.partyDecline();
  }

  private partyDecline(): HTMLElement {
    const reason = h('textarea', { class: 'signing-reason', 'data-testid': 'signing-decline-reason', rows: 3, maxlength: 500, placeholder: t('signing.decline.placeholder') });
    const send = h('button', {
      type: 'button',
      class: 'danger',
      'data-testid': 'signing-decline-send',
      text: t('signing.decline.confirm'),
      onclick: () => {
        const text = reason.value.trim();
        if (!text) {
          reason.focus();
          return;
        }
        void this.act(() => this.host.api.decline(this.agreement.id, text));
      },
    });
    return h('details', { class: 'signing-decline' }, [
      h('summary', { 'data-testid': 'signing-decline', text: t('signing.decline.open') }),
      h('label', { class: 'muted', text: t('signing.decline.reason') }),
      reason,
      send,
    ]);
  }

  private identity(): Node[] {
    if (this.host.viewer.kind === 'staff') {
      return [
        h('p', { text: t('signing.identity.staff') }),
        h('button', {
          type: 'button',
          class: 'primary signing-big',
          'data-testid': 'signing-identity-staff',
          disabled: this.busy,
          text: t('signing.identity.staffButton'),
          onclick: () => void this.register({ method: 'staff' }),
        }),
      ];
    }
    const p = this.progress();
    const code = h('input', {
      class: 'signing-otp',
      'data-testid': 'signing-otp',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      pattern: '[0-9]{6}',
      maxlength: 6,
      'aria-label': t('signing.identity.codeLabel'),
      placeholder: '······',
    });
    const confirm = h('button', {
      type: 'button',
      class: 'primary signing-big',
      'data-testid': 'signing-otp-confirm',
      disabled: true,
      text: t('signing.identity.confirm'),
      onclick: () => void this.register({ method: 'otp', code: code.value }),
    });
    code.addEventListener('input', () => {
      // Digits only: a pasted "123 456" or full-width digits from a Chinese keyboard still work.
      const digits = code.value.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/\D/g, '').slice(0, 6);
      if (digits !== code.value) code.value = digits;
      confirm.disabled = digits.length !== 6 || this.busy;
    });
    const send = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-otp-send', onclick: () => void this.sendOtp() });
    const sentLine = h('p', { class: 'muted', 'data-testid': 'signing-otp-sent' });
    const tick = () => {
      const wait = resendWait(p?.otpSentAt ?? 0, Date.now());
      send.textContent = p?.otpSentTo ? (wait > 0 ? t('signing.identity.resendIn', { s: String(wait) }) : t('signing.identity.resend')) : t('signing.identity.send');
      send.disabled = wait > 0 || this.busy;
      sentLine.textContent = p?.otpSentTo ? t('signing.identity.sentTo', { phone: p.otpSentTo }) : '';
      if (wait === 0) this.stopCountdown();
    };
    tick();
    if (resendWait(p?.otpSentAt ?? 0, Date.now()) > 0) this.countdown = setInterval(tick, 1000);
    return [
      h('p', { text: t('signing.identity.why') }),
      h('div', { class: 'signing-otp-row' }, [send, sentLine]),
      p?.otpSentTo ? h('label', { class: 'signing-otp-label' }, [t('signing.identity.codeLabel'), code]) : null,
      p?.otpSentTo ? confirm : null,
      this.attestation(),
    ].filter(isNode);
  }

  /**
   * The way in without a code when the mediator checked the person on camera: offered first
   * when the server says it happened, tucked away when the server does not say.
   */
  private attestation(): HTMLElement | null {
    const attestedAt = this.signer()?.attested_at;
    if (attestedAt === null) return null;
    const button = h('button', {
      type: 'button',
      class: attestedAt === undefined ? 'secondary' : 'primary signing-big',
      'data-testid': 'signing-identity-attestation',
      disabled: this.busy,
      text: t('signing.identity.attestedButton'),
      onclick: () => void this.register({ method: 'attestation' }),
    });
    if (attestedAt !== undefined) {
      return h('div', { class: 'signing-attested' }, [h('p', { text: t('signing.identity.attestedDone', { time: formatChinaTime(attestedAt) }) }), button]);
    }
    return h('details', { class: 'signing-attested' }, [
      h('summary', { 'data-testid': 'signing-attestation-open', text: t('signing.identity.attestedOpen') }),
      h('p', { class: 'muted', text: t('signing.identity.attestedWhy') }),
      button,
    ]);
  }

  private async sendOtp(): Promise<void> {
    const p = this.progress();
    if (!p) return;
    await this.act(async () => {
      const sent = await this.host.api.sendOtp(this.agreement.id);
      p.otpSentTo = sent.sent_to;
      p.otpSentAt = Date.now();
    }, false);
  }

  private async register(proof: IdentityProof): Promise<void> {
    const signer = this.signer();
    if (!signer) return;
    await this.act(async () => {
      const key = await deviceKey(this.agreement.id, this.agreement.version, signer.signer_id);
      await this.host.api.registerKey(this.agreement.id, proof, key.publicKey);
      this.hasKey = true;
      const p = this.progress();
      if (p) p.keyRejected = false;
    });
  }

  private draw(): Node[] {
    if (!this.pad) this.pad = new SignaturePad();
    const pad = this.pad;
    const sign = h('button', {
      type: 'button',
      class: 'primary signing-big',
      'data-testid': 'signing-sign',
      disabled: !pad.hasEnoughInk() || this.busy,
      text: t('signing.draw.sign'),
      onclick: () => void this.sign(),
    });
    this.padListener?.();
    this.padListener = pad.onChange(() => {
      sign.disabled = !pad.hasEnoughInk() || this.busy;
    });
    return [
      h('p', { text: t('signing.draw.instruction') }),
      pad.element,
      h('p', { class: 'muted', text: t('signing.draw.binding', { line: versionLine(this.agreement) }) }),
      sign,
    ];
  }

  private async sign(): Promise<void> {
    const signer = this.signer();
    const pad = this.pad;
    if (!signer || !pad) return;
    await this.act(async () => {
      const key = await loadKey(this.agreement.id, this.agreement.version, signer.signer_id);
      if (!key) {
        this.hasKey = false;
        throw new SigningError('key_missing', t('signing.error.key_missing'));
      }
      const png = await pad.png();
      const payload = await this.host.api.challenge(this.agreement.id);
      const signature = await signPayload(key.pair.privateKey, payload);
      await this.host.api.sign(this.agreement.id, { payload, signature, image: toBase64(png), public_key: key.publicKey });
    });
  }

  /** Runs a call, shows a refusal in the server's words, and refetches the agreement after. */
  private async act(call: () => Promise<unknown>, refresh = true): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.message = null;
    this.render();
    try {
      await call();
      snapshot.lastError = null;
    } catch (error) {
      const words = errorWords(error);
      snapshot.lastError = words.code;
      this.message = { text: words.text, tone: 'error' };
      this.onRefusal(words.code);
      refresh = true;
    } finally {
      this.busy = false;
    }
    if (refresh) {
      try {
        await this.host.refresh();
      } catch (error) {
        this.message ??= { text: errorWords(error).text, tone: 'error' };
      }
    }
    this.render();
  }

  /** Refusals that change the step: a new version to read, a key to register again. */
  private onRefusal(code: string): void {
    const p = this.progress();
    if (!p) return;
    if (code === 'version_outdated') {
      p.readDone = false;
      p.seenEnd = false;
    }
    if (code === 'key_not_registered' || code === 'key_missing') p.keyRejected = true;
  }

  private inForce(): Node[] {
    const agreement = this.agreement;
    const download = h('button', {
      type: 'button',
      class: 'primary signing-big',
      'data-testid': 'signing-pdf',
      disabled: !agreement.pdf_url,
      text: t('signing.pdf.download'),
      onclick: () => void this.downloadPdf(),
    });
    return [
      h('p', {
        class: 'signing-done',
        'data-testid': 'signing-in-force',
        text: t('signing.inForce', { date: agreement.effective_at ? formatChinaTime(agreement.effective_at) : '' }),
      }),
      download,
    ];
  }

  private async downloadPdf(): Promise<void> {
    const url = this.agreement.pdf_url;
    if (!url) return;
    try {
      const blob = await this.host.api.pdf(url);
      const link = h('a', { href: URL.createObjectURL(blob), download: t('signing.pdf.fileName'), 'data-testid': 'signing-pdf-link' });
      link.style.display = 'none';
      document.body.append(link);
      link.click();
      // Revoked after the click has started the download, not before.
      setTimeout(() => {
        URL.revokeObjectURL(link.href);
        link.remove();
      }, 60_000);
      this.message = null;
    } catch (error) {
      const words = errorWords(error);
      snapshot.lastError = words.code;
      this.message = { text: words.text, tone: 'error' };
    }
    this.render();
  }

  private stopCountdown(): void {
    if (this.countdown) clearInterval(this.countdown);
    this.countdown = null;
  }
}
