// A party's agreement to online mediation and to the session being recorded (在线调解规则
// 第四条), asked once per case before their first session, between the device check and the
// room. Both points must be ticked; the server records the agreement with the case, and
// refuses the join without it.

import { t } from '../i18n';
import type { ConsentState, RoomApi } from '../room/room-api';
import { apiErrorText } from './api-error';
import { h } from './dom';
import { header } from './header';

export interface ConsentOptions {
  api: RoomApi;
  /** The answer of `GET /api/v1/room/consent` if the caller has it already. */
  known?: ConsentState | null;
  /** Consent is on record (now, or from before): go on to the device check. */
  onDone: () => void;
}

export interface ConsentScreen {
  rerender(): void;
}

type State =
  | { step: 'checking' }
  | { step: 'form'; online: boolean; recording: boolean; submitting: boolean; problem: string | null; detail: string | null }
  | { step: 'failed'; problem: string; detail: string | null };

export function renderConsent(root: HTMLElement, options: ConsentOptions): ConsentScreen {
  let state: State = { step: 'checking' };

  const set = (next: State) => {
    state = next;
    render();
  };

  const check = async (known?: ConsentState | null) => {
    set({ step: 'checking' });
    try {
      const consent = known ?? (await options.api.consent());
      if (!consent.required) options.onDone();
      else set({ step: 'form', online: false, recording: false, submitting: false, problem: null, detail: null });
    } catch (error) {
      const { text, detail } = apiErrorText(error);
      set({ step: 'failed', problem: text, detail });
    }
  };

  const submit = async () => {
    if (state.step !== 'form' || state.submitting) return;
    if (!state.online || !state.recording) {
      set({ ...state, problem: t('consent.needBoth'), detail: null });
      return;
    }
    set({ ...state, submitting: true, problem: null, detail: null });
    try {
      await options.api.giveConsent();
      options.onDone();
    } catch (error) {
      const { text, detail } = apiErrorText(error);
      if (state.step === 'form') set({ ...state, submitting: false, problem: text, detail });
    }
  };

  function render(): void {
    root.replaceChildren(header(), h('main', { class: 'consent-screen', 'data-testid': 'consent-screen' }, body()));
  }

  function body(): (HTMLElement | null)[] {
    if (state.step === 'checking') return [h('p', { role: 'status', text: t('consent.checking') })];
    if (state.step === 'failed') {
      return [
        h('h1', { text: t('consent.title') }),
        problemBox(state.problem, state.detail),
        h('button', { type: 'button', class: 'primary', 'data-testid': 'consent-retry', text: t('consent.retry'), onclick: () => void check() }),
      ];
    }
    const form = state;
    // Ticking a box must not redraw the page: the box (and its focus) has to stay the same
    // element, for screen readers and for tests that check it.
    const submitButton = h('button', {
      type: 'button',
      class: 'primary',
      'data-testid': 'consent-submit',
      disabled: form.submitting || !form.online || !form.recording,
      text: form.submitting ? t('consent.submitting') : t('consent.submit'),
      onclick: () => void submit(),
    });
    const box = (testId: string, checked: boolean, label: string, toggle: (value: boolean) => void) => {
      const input = h('input', { type: 'checkbox', 'data-testid': testId, checked, disabled: form.submitting });
      input.addEventListener('change', () => {
        toggle(input.checked);
        submitButton.disabled = !form.online || !form.recording;
      });
      return h('label', { class: 'consent-item' }, [input, h('span', { text: label })]);
    };
    return [
      h('h1', { text: t('consent.title') }),
      h('p', { text: t('consent.intro') }),
      box('consent-online', form.online, t('consent.online'), (online) => (form.online = online)),
      box('consent-recording', form.recording, t('consent.recording'), (recording) => (form.recording = recording)),
      h('p', { class: 'hint', text: t('consent.decline') }),
      form.problem ? problemBox(form.problem, form.detail) : null,
      submitButton,
    ];
  }

  void check(options.known);
  return { rerender: render };
}

function problemBox(text: string, detail: string | null): HTMLElement {
  return h('div', { class: 'problem', role: 'alert', 'data-testid': 'consent-problem' }, [
    h('p', { text }),
    detail ? h('p', { class: 'hint', text: detail }) : null,
  ]);
}
