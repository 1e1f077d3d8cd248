// Following a case by its tracking code (/track): the status and its history, nothing
// personal, since anyone holding the code can read it.

import { type MessageKey, language, t } from '../i18n';
import { type Tracked, trackCase } from '../intake/api';
import { looksLikeTrackingCode, normaliseTrackingCode } from '../intake/form';
import { h } from './dom';
import { header } from './header';

interface State {
  code: string;
  result: Tracked | null;
  notice: MessageKey | null;
  busy: boolean;
}

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountTrack(root: HTMLElement, search: string): () => void {
  const state: State = {
    code: new URLSearchParams(search).get('code') ?? '',
    result: null,
    notice: null,
    busy: false,
  };
  const render = () => root.replaceChildren(header(), view(state, lookup));
  const lookup = async () => {
    const code = normaliseTrackingCode(state.code);
    state.result = null;
    if (!looksLikeTrackingCode(code)) {
      state.notice = 'track.notFound';
      render();
      return;
    }
    state.busy = true;
    render();
    try {
      state.result = await trackCase(code);
      state.notice = state.result ? null : 'track.notFound';
    } catch {
      state.notice = 'error.network';
    }
    state.busy = false;
    render();
  };
  render();
  if (state.code) void lookup();
  return render;
}

function statusText(status: string): string {
  return t(`status.${status}` as MessageKey);
}

function view(state: State, lookup: () => Promise<void>): HTMLElement {
  const codeInput = h('input', {
    id: 'track-code',
    'data-testid': 'track-code',
    autocomplete: 'off',
    autocapitalize: 'characters',
    value: state.code,
    oninput: (e: Event) => {
      state.code = (e.target as HTMLInputElement).value;
    },
  });
  const result = state.result;
  return h('main', { class: 'intake', 'data-testid': 'track' }, [
    h('h1', { text: t('track.title') }),
    h('div', { class: 'field' }, [h('label', { for: 'track-code', text: t('track.code') }), codeInput]),
    h('button', {
      class: 'primary intake-submit',
      type: 'button',
      'data-testid': 'track-lookup',
      disabled: state.busy,
      text: t('track.lookup'),
      onclick: () => void lookup(),
    }),
    state.notice ? h('p', { class: 'problem', role: 'alert', 'data-testid': 'track-notice', text: t(state.notice) }) : null,
    result
      ? h('section', { class: 'track-result', 'data-testid': 'track-result' }, [
          h('p', { text: t('track.number', { number: result.case_number }) }),
          h('p', { 'data-testid': 'track-status', text: t('track.status', { status: statusText(result.status) }) }),
          h('h2', { text: t('track.history') }),
          h(
            'ol',
            { class: 'track-history' },
            result.history.map((step) =>
              h('li', {}, [
                h('time', { text: new Date(step.at).toLocaleString(language()) }),
                ' ',
                statusText(step.status),
              ]),
            ),
          ),
        ])
      : null,
    h('a', { class: 'intake-link', href: '/apply', text: t('track.apply') }),
  ]);
}
