// The mediator's console: who waits to be admitted, the lock, recording, everyone by space with what can
// be done to each person, splitting the sides into their private rooms (背对背) and bringing
// them back, going to a side's room oneself, and ending the session. Everything here sends a
// frame through the room model; what changes comes back from the server and redraws it.
//
// A reason (for turning someone away or removing them) is typed inline, not in a browser
// prompt: WeChat's browser handles prompts badly, and the person will read the words.

import { type MessageKey, t } from '../i18n';
import type { Room } from '../room/room';
import { recordingControls } from '../room/recording';
import { groupBySpace } from '../room/session-logic';
import { type ParticipantInfo, type RecordAction, type Space, SPACES } from '../signal/messages';
import { healthBadge, updateHealthBadge } from './connection-health';
import { h } from './dom';
import { spaceName } from './space-banner';

type Asking = { kind: 'deny' | 'remove'; id: string; input: HTMLInputElement };

const GO_LABEL: Record<Space, MessageKey> = { joint: 'mod.goJoint', applicant: 'mod.goApplicant', respondent: 'mod.goRespondent' };
const MOVE_LABEL: Record<Space, MessageKey> = { joint: 'mod.toJoint', applicant: 'mod.toApplicant', respondent: 'mod.toRespondent' };
const RECORD_LABEL: Record<RecordAction, MessageKey> = { start: 'recording.start', pause: 'recording.pause', resume: 'recording.resume', stop: 'recording.stop' };

export class ModeratorPanel {
  readonly el = h('aside', { class: 'side-panel moderator-panel', hidden: true, 'data-testid': 'moderator-panel' });
  private readonly body = h('div', { class: 'panel-body' });
  private asking: Asking | null = null;
  /** This drawing's health badge of each admitted person, updated in place. */
  private readonly healthBadges = new Map<string, HTMLElement>();

  constructor(
    private readonly room: Room,
    private readonly onClose: () => void,
  ) {
    room.on('session', () => this.render());
    room.on('participants', () => this.render());
    room.on('recording', () => this.render());
    room.network.on('health', () => this.updateHealth());
    this.render();
  }

  setOpen(open: boolean): void {
    this.el.hidden = !open;
  }

  get opened(): boolean {
    return !this.el.hidden;
  }

  render(): void {
    if (this.asking && !this.stillThere(this.asking.id)) this.asking = null;
    this.healthBadges.clear();
    this.el.replaceChildren(
      h('header', { class: 'panel-head' }, [
        h('h2', { text: t('mod.title') }),
        h('button', { type: 'button', class: 'panel-close', 'data-testid': 'moderator-close', text: t('chat.close'), onclick: () => this.onClose() }),
      ]),
      this.body,
    );
    this.body.replaceChildren(this.roomActions(), this.recordingSection(), this.waitingSection(), this.participantsSection());
  }

  private roomActions(): HTMLElement {
    const room = this.room;
    const go = SPACES.map((space) =>
      this.button(`go-${space}`, t(GO_LABEL[space]), () => room.move(room.self?.id ?? '', space), room.space === space || !room.self),
    );
    return h('section', { class: 'mod-section mod-actions' }, [
      h('div', { class: 'mod-buttons' }, [
        this.button('separate-sides', t('mod.separate'), () => room.separateSides()),
        this.button('gather', t('mod.gather'), () => room.gather()),
      ]),
      h('div', { class: 'mod-buttons' }, go),
      h('div', { class: 'mod-buttons' }, [
        h('button', {
          type: 'button',
          class: `small${room.locked ? ' on' : ''}`,
          'data-testid': 'lock',
          'aria-pressed': String(room.locked),
          text: room.locked ? t('mod.unlock') : t('mod.lock'),
          onclick: () => room.lock(!room.locked),
        }),
        h('button', {
          type: 'button',
          class: 'small danger',
          'data-testid': 'end-session',
          text: t('mod.endSession'),
          onclick: () => {
            if (window.confirm(t('mod.endConfirm'))) room.endSession();
          },
        }),
      ]),
    ]);
  }

  /** The recording's state and the buttons that fit it; stopping is asked twice. */
  private recordingSection(): HTMLElement {
    const room = this.room;
    const status = room.recording;
    const state = status?.state ?? 'off';
    const buttons = recordingControls(state).map((action) =>
      this.button(
        `record-${action}`,
        t(RECORD_LABEL[action]),
        () => {
          if (action !== 'stop' || window.confirm(t('recording.stopConfirm'))) room.record(action);
        },
        false,
        action === 'stop' ? 'danger' : action === 'start' ? 'record' : '',
      ),
    );
    const facts = [t(`recording.state.${state}` as MessageKey)];
    if (status) facts.push(t(status.private_rooms_recorded ? 'recording.privateRecorded' : 'recording.privateNotRecorded'));
    return h('section', { class: 'mod-section mod-recording', 'data-testid': 'recording-controls', 'data-state': state }, [
      h('div', { class: 'mod-title-row' }, [
        h('h3', { text: t('recording.title') }),
        h('span', { class: 'mod-facts', 'data-testid': 'recording-state', text: facts.join(' · ') }),
      ]),
      h('div', { class: 'mod-buttons' }, buttons),
    ]);
  }

  private waitingSection(): HTMLElement {
    const room = this.room;
    const waiting = room.waitingList;
    return h('section', { class: 'mod-section', 'data-testid': 'waiting-list' }, [
      h('div', { class: 'mod-title-row' }, [
        h('h3', { text: t('mod.waiting', { count: String(waiting.length) }) }),
        this.button('admit-all', t('mod.admitAll'), () => room.admit(), waiting.length === 0),
      ]),
      waiting.length === 0
        ? h('p', { class: 'hint', text: t('mod.noneWaiting') })
        : h(
            'ul',
            { class: 'mod-list' },
            waiting.map((p) =>
              h('li', { class: 'mod-person', 'data-testid': `waiting-${p.id}`, 'data-id': p.id }, [
                this.who(p, false),
                h('div', { class: 'mod-buttons' }, [
                  this.button(`admit-${p.id}`, t('mod.admit'), () => room.admit(p.id)),
                  this.button(`deny-${p.id}`, t('mod.deny'), () => this.ask('deny', p.id)),
                ]),
                this.reasonForm('deny', p.id),
              ]),
            ),
          ),
    ]);
  }

  private participantsSection(): HTMLElement {
    const room = this.room;
    const groups = groupBySpace(
      room.list().map((p) => p.info),
      room.self,
      room.space,
    );
    return h('section', { class: 'mod-section', 'data-testid': 'participants-list' }, [
      h('h3', { text: t('mod.participants') }),
      ...SPACES.map((space) =>
        h('div', { class: 'mod-space', 'data-testid': `space-${space}`, 'data-space': space }, [
          h('h4', { text: spaceName(space) }),
          groups[space].length === 0
            ? h('p', { class: 'hint', text: t('mod.empty') })
            : h('ul', { class: 'mod-list' }, groups[space].map((p) => this.personRow(p, space))),
        ]),
      ),
    ]);
  }

  private personRow(p: ParticipantInfo, space: Space): HTMLElement {
    const room = this.room;
    const isSelf = p.id === room.self?.id;
    const actions = isSelf
      ? null
      : h('div', { class: 'mod-buttons' }, [
          ...SPACES.map((to) => this.button(`move-${p.id}-${to}`, t(MOVE_LABEL[to]), () => room.move(p.id, to), to === space)),
          this.button(`ask-unmute-${p.id}`, t('mod.askUnmute'), () => room.askUnmute(p.id, 'microphone')),
          this.button(`ask-camera-${p.id}`, t('mod.askCamera'), () => room.askUnmute(p.id, 'camera')),
          this.button(`mute-${p.id}`, t('mod.mute'), () => room.muteParticipant(p.id, 'microphone')),
          this.button(`stop-video-${p.id}`, t('mod.stopVideo'), () => room.muteParticipant(p.id, 'camera')),
          this.button(`remove-${p.id}`, t('mod.remove'), () => this.ask('remove', p.id), false, 'danger'),
        ]);
    const health = healthBadge(p.id);
    this.healthBadges.set(p.id, health);
    updateHealthBadge(health, room.network.health.get(p.id));
    return h('li', { class: 'mod-person', 'data-testid': `participant-${p.id}`, 'data-id': p.id }, [
      this.who(p, isSelf),
      health,
      actions,
      isSelf ? null : this.reasonForm('remove', p.id),
    ]);
  }

  /** Name, then role, side and kind: enough to tell 张三 the applicant from 张三's lawyer. */
  private who(p: ParticipantInfo, isSelf: boolean): HTMLElement {
    const facts = [t(`role.${p.role}` as MessageKey)];
    if (p.side) facts.push(t(`side.${p.side}` as MessageKey));
    if (p.kind) facts.push(t(`kind.${p.kind}` as MessageKey));
    const raised = isSelf ? this.room.handRaised : p.hand_raised === true;
    return h('div', { class: 'mod-who' }, [
      h('span', { class: 'mod-name', text: isSelf ? `${p.name}（${t('room.you')}）` : p.name }),
      raised ? h('span', { class: 'badge hand', 'data-testid': `hand-${p.id}`, title: t('room.handRaised'), text: t('room.handRaised') }) : null,
      h('span', { class: 'mod-facts', text: facts.join(' · ') }),
    ]);
  }

  private updateHealth(): void {
    const health = this.room.network.health;
    for (const [id, badge] of this.healthBadges) updateHealthBadge(badge, health.get(id));
  }

  private ask(kind: Asking['kind'], id: string): void {
    if (this.asking?.kind === kind && this.asking.id === id) return;
    const input = h('input', { type: 'text', class: 'reason-input', 'data-testid': `${kind}-reason-${id}`, maxlength: 500 });
    this.asking = { kind, id, input };
    this.render();
    input.focus();
  }

  private reasonForm(kind: Asking['kind'], id: string): HTMLElement | null {
    const asking = this.asking;
    if (!asking || asking.kind !== kind || asking.id !== id) return null;
    // The same input element across redraws keeps what the mediator is typing.
    asking.input.placeholder = t('mod.reasonPlaceholder');
    asking.input.setAttribute('aria-label', t('mod.reasonPlaceholder'));
    const confirm = () => {
      const fallback = kind === 'deny' ? t('mod.defaultDenyReason') : t('mod.defaultRemoveReason');
      const reason = asking.input.value.trim() || fallback;
      this.asking = null;
      if (kind === 'deny') this.room.deny(id, reason);
      else this.room.remove(id, reason);
      this.render();
    };
    const form = h('form', { class: 'reason-form' }, [
      asking.input,
      h('button', { type: 'submit', class: 'small danger', 'data-testid': `${kind}-confirm-${id}`, text: t('mod.confirm') }),
      h('button', {
        type: 'button',
        class: 'small',
        'data-testid': `${kind}-cancel-${id}`,
        text: t('mod.cancel'),
        onclick: () => {
          this.asking = null;
          this.render();
        },
      }),
    ]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      confirm();
    });
    return form;
  }

  private stillThere(id: string): boolean {
    return this.room.participants.has(id) || this.room.waitingList.some((p) => p.id === id);
  }

  private button(testId: string, label: string, run: () => void, disabled = false, extra = ''): HTMLButtonElement {
    return h('button', { type: 'button', class: `small${extra ? ` ${extra}` : ''}`, 'data-testid': testId, text: label, disabled, onclick: run });
  }
}
