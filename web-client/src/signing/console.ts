// The mediator's signing console (desktop, in the room): every signer with their status, the
// free-will check in a caucus (the party moved alone into their side's private room, the
// scripted question, the answer recorded with the recording's moment), identity attested on
// camera, the mediator's own signature (the same flow as a party's), and the seal.

import { hasMessage, t } from '../i18n';
import type { Room } from '../room/room';
import { h } from '../screens/dom';
import { formatChinaTime } from '../staff/api';
import { freeWillMoves, freeWillPhase, seatOf } from './caucus';
import { type FlowHost, SignerFlow, errorWords, signerRole, versionLine } from './flow';
import { snapshot } from './progress';
import { readyToSeal } from './steps';
import type { Agreement, Signer } from './types';

/** Why someone may not sign, in words when we know the code. */
function cannotWords(code: string): string {
  const key = `signing.cannot.${code}`;
  return hasMessage(key) ? t(key) : t('signing.console.cannotReason', { code });
}

function statusWords(signer: Signer): string {
  if (signer.status === 'signed') return t('signing.status.signed', { time: signer.signed_at ? formatChinaTime(signer.signed_at) : '' });
  if (signer.status === 'declined') return t('signing.status.declined');
  if (!signer.may_sign) return t('signing.status.cannot');
  return t('signing.status.pending');
}

export class SigningConsole {
  readonly element = h('section', { class: 'signing-console', 'data-testid': 'signing-console' });
  private readonly own: SignerFlow;
  /** The party being asked about their free will (signer id), and what was answered. */
  private asking: string | null = null;
  private answered = false;
  /** The note being typed: the panel is redrawn whenever someone moves. */
  private note = '';
  private message: { text: string; tone: 'error' | 'info' } | null = null;
  private busy = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly host: FlowHost,
    private readonly room: Room | undefined,
  ) {
    this.own = new SignerFlow(host);
    if (room) {
      // Who sits where decides what the free-will panel says.
      this.unsubscribe.push(room.on('participants', () => this.render()), room.on('session', () => this.render()));
      this.unsubscribe.push(
        room.on('refused', ({ message }) => {
          if (!this.asking) return;
          this.message = { text: message, tone: 'error' };
          this.render();
        }),
      );
    }
  }

  private get agreement(): Agreement {
    return this.host.agreement();
  }

  render(): void {
    const agreement = this.agreement;
    snapshot.askingFreeWill = this.asking;
    const rows = agreement.signers.map((signer) => this.row(signer));
    const sealReady = readyToSeal(agreement);
    const parts: (Node | null)[] = [
      h('h2', { text: t('signing.console.title') }),
      h('p', { class: 'signing-version', text: versionLine(agreement) }),
      agreement.e_signable
        ? null
        : h('p', { class: 'signing-paper', 'data-testid': 'signing-not-e-signable', text: `${t('signing.paper.title')} ${t('signing.paper.law')}` }),
      h('table', { class: 'signing-signers', 'data-testid': 'signing-signers' }, [
        h('thead', {}, [
          h('tr', {}, [
            h('th', { text: t('signing.console.name') }),
            h('th', { text: t('signing.console.role') }),
            h('th', { text: t('signing.console.status') }),
            h('th', { text: t('signing.console.checks') }),
            h('th', { text: '' }),
          ]),
        ]),
        h('tbody', {}, rows),
      ]),
      this.asking ? this.freeWillPanel(this.asking) : null,
      this.message
        ? h('p', {
            class: `signing-message signing-message-${this.message.tone}`,
            role: this.message.tone === 'error' ? 'alert' : 'status',
            'data-testid': 'signing-console-message',
            text: this.message.text,
          })
        : null,
      agreement.status === 'final' && agreement.e_signable ? this.ownSignature() : null,
      this.sealSection(sealReady),
    ];
    this.element.replaceChildren(...parts.filter((n): n is Node => n !== null));
    this.own.render();
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
    this.own.dispose();
  }

  private row(signer: Signer): HTMLElement {
    const agreement = this.agreement;
    const checks: string[] = [];
    if (signer.free_will) checks.push(t(signer.free_will.answer === 'yes' ? 'signing.console.freeWillYes' : 'signing.console.freeWillNo'));
    if (signer.identity) checks.push(t(`signing.console.identity.${signer.identity.method}`));
    const actions: HTMLElement[] = [];
    const open = agreement.status === 'final' && agreement.e_signable && signer.status === 'pending' && signer.may_sign;
    if (open && signer.role !== 'mediator') {
      if (this.room) {
        actions.push(
          h('button', {
            type: 'button',
            class: 'small',
            'data-testid': 'signing-ask-free-will',
            'data-signer': signer.signer_id,
            disabled: this.busy,
            text: t('signing.console.askFreeWill'),
            onclick: () => this.startFreeWill(signer),
          }),
        );
      }
      actions.push(
        h('button', {
          type: 'button',
          class: 'small secondary',
          'data-testid': 'signing-attest',
          'data-signer': signer.signer_id,
          disabled: this.busy,
          text: t('signing.console.attest'),
          onclick: () => void this.act(() => this.host.api.attest(agreement.id, signer.signer_id), t('signing.console.attested', { name: signer.name })),
        }),
      );
    }
    return h('tr', { 'data-testid': 'signing-signer', 'data-signer': signer.signer_id, 'data-status': signer.status }, [
      h('td', { text: signer.name }),
      h('td', { text: signerRole(signer, agreement) }),
      h('td', {}, [
        statusWords(signer),
        signer.cannot_sign_reason ? h('div', { class: 'muted', text: cannotWords(signer.cannot_sign_reason) }) : null,
        signer.declined_reason ? h('div', { class: 'muted', text: signer.declined_reason }) : null,
      ]),
      h('td', { text: checks.join(' · ') }),
      // A flex box inside the cell: a flex cell would leave the table's layout.
      h('td', {}, [h('div', { class: 'signing-actions' }, actions)]),
    ]);
  }

  /** Moves the party alone into their side's private room, and the mediator with them. */
  private startFreeWill(signer: Signer): void {
    if (this.asking !== signer.signer_id) this.note = '';
    this.asking = signer.signer_id;
    this.answered = false;
    this.message = null;
    const room = this.room;
    if (room) {
      const us = room.self ? { id: room.self.id, space: room.space } : null;
      for (const move of freeWillMoves(room.list().map((p) => p.info), signer.signer_id, signer.side ?? null, us)) {
        room.move(move.participant_id, move.to, { alone: move.alone });
      }
    }
    this.render();
  }

  private freeWillPanel(signerId: string): HTMLElement {
    const signer = this.agreement.signers.find((s) => s.signer_id === signerId);
    const room = this.room;
    const close = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-free-will-close', text: t('signing.console.close'), onclick: () => this.endFreeWill(false) });
    if (!signer || !room) return h('div', { class: 'signing-caucus' }, [close]);
    const phase = freeWillPhase(room.list().map((p) => p.info), signer.signer_id, signer.side ?? null, room.space);
    const parts: (HTMLElement | null)[] = [h('h3', { text: t('signing.console.freeWillFor', { name: signer.name }) })];
    if (phase.kind === 'not_seated') {
      parts.push(h('p', { role: 'alert', 'data-testid': 'signing-not-seated', text: t('signing.console.notSeated') }));
    } else {
      const sideName = t(phase.side === 'applicant' ? 'signing.side.applicant' : 'signing.side.respondent');
      if (phase.kind === 'others') {
        parts.push(
          h('p', { role: 'alert', 'data-testid': 'signing-not-alone', text: t('signing.console.othersThere', { side: sideName, names: phase.others.map((o) => o.name).join('、') }) }),
          h(
            'div',
            { class: 'signing-actions' },
            phase.others.map((o) =>
              h('button', { type: 'button', class: 'small secondary', text: t('signing.console.moveOut', { name: o.name }), onclick: () => room.move(o.id, 'joint') }),
            ),
          ),
        );
      } else if (phase.kind === 'moving') {
        parts.push(
          h('p', { class: 'muted', 'data-testid': 'signing-moving', text: t('signing.console.notThereYet', { side: sideName }) }),
          h('button', { type: 'button', class: 'small', 'data-testid': 'signing-move-in', text: t('signing.console.moveIn', { side: sideName }), onclick: () => this.startFreeWill(signer) }),
        );
      } else {
        // The question and its answers only now: with anyone else there the server refuses them.
        parts.push(h('p', { class: 'muted', 'data-testid': 'signing-alone', text: t('signing.console.alone', { side: sideName }) }), this.question(signer));
      }
    }
    parts.push(
      h('div', { class: 'signing-actions' }, [
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'signing-back-joint', text: t('signing.console.backToJoint'), onclick: () => this.endFreeWill(true) }),
        close,
      ]),
    );
    return h('div', { class: 'signing-caucus', 'data-testid': 'signing-caucus', 'data-signer': signer.signer_id }, parts);
  }

  private question(signer: Signer): HTMLElement {
    const note = h('textarea', { class: 'signing-reason', 'data-testid': 'signing-free-will-note', rows: 2, maxlength: 500, placeholder: t('signing.console.note') });
    note.value = this.note;
    note.addEventListener('input', () => {
      this.note = note.value;
    });
    const answer = (value: 'yes' | 'no') =>
      void this.act(async () => {
        await this.host.api.freeWill(this.agreement.id, signer.signer_id, value, this.note);
        this.answered = true;
        this.note = '';
      }, t('signing.console.recorded'));
    return h('div', { class: 'signing-question' }, [
      h('p', { class: 'signing-script', 'data-testid': 'signing-script', text: t('signing.console.script') }),
      this.answered && signer.free_will ? h('p', { class: 'muted', 'data-testid': 'signing-free-will-recorded', text: t('signing.console.recordedAnswer', { answer: t(signer.free_will.answer === 'yes' ? 'signing.console.yes' : 'signing.console.no') }) }) : null,
      h('div', { class: 'signing-actions' }, [
        h('button', { type: 'button', class: 'primary', 'data-testid': 'signing-free-will-yes', disabled: this.busy, text: t('signing.console.yes'), onclick: () => answer('yes') }),
        h('button', { type: 'button', class: 'danger', 'data-testid': 'signing-free-will-no', disabled: this.busy, text: t('signing.console.no'), onclick: () => answer('no') }),
      ]),
      h('label', { class: 'muted', text: t('signing.console.noteLabel') }),
      note,
    ]);
  }

  /** Closes the panel; with `back`, the party and the mediator return to the joint room. */
  private endFreeWill(back: boolean): void {
    const room = this.room;
    const signerId = this.asking;
    if (back && room && signerId) {
      const seat = seatOf(room.list().map((p) => p.info), signerId);
      if (seat && seat.space && seat.space !== 'joint') room.move(seat.id, 'joint');
      if (room.self && room.space !== 'joint') room.move(room.self.id, 'joint');
    }
    this.asking = null;
    this.answered = false;
    this.message = null;
    this.render();
  }

  private ownSignature(): HTMLElement {
    return h('div', { class: 'signing-own', 'data-testid': 'signing-own' }, [h('h3', { text: t('signing.console.own') }), this.own.element]);
  }

  private sealSection(ready: boolean): HTMLElement {
    const agreement = this.agreement;
    if (agreement.status === 'in_force') {
      // The flow shows the effective date and the PDF download to staff as to parties.
      return h('div', { class: 'signing-sealed', 'data-testid': 'signing-sealed' }, [this.own.element]);
    }
    return h('div', { class: 'signing-seal' }, [
      h('button', {
        type: 'button',
        class: 'primary signing-big',
        'data-testid': 'signing-seal',
        disabled: !ready || this.busy,
        text: t('signing.console.seal'),
        onclick: () => {
          if (!window.confirm(t('signing.console.sealConfirm'))) return;
          void this.act(() => this.host.api.seal(agreement.id), null);
        },
      }),
      ready ? null : h('p', { class: 'muted', text: t('signing.console.sealWhen') }),
    ]);
  }

  private async act(call: () => Promise<unknown>, done: string | null): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.message = null;
    this.render();
    try {
      await call();
      snapshot.lastError = null;
      this.message = done ? { text: done, tone: 'info' } : null;
    } catch (error) {
      const words = errorWords(error);
      snapshot.lastError = words.code;
      this.message = { text: words.text, tone: 'error' };
    } finally {
      this.busy = false;
    }
    try {
      await this.host.refresh();
    } catch (error) {
      this.message ??= { text: errorWords(error).text, tone: 'error' };
    }
    this.render();
  }
}
