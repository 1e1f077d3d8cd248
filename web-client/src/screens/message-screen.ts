// A full-page message: a bad link, a full room, a lost connection, having left.

import { type MessageKey, t } from '../i18n';
import { h } from './dom';
import { header } from './header';

export interface MessageScreen {
  title: MessageKey;
  body?: MessageKey;
  /** Someone's own words, shown as written (a mediator's reason for a removal or denial). */
  detail?: string;
  action?: { label: MessageKey; run: () => void };
  /** Where to go next (a mediator's case and session record). */
  links?: { label: MessageKey; href: string; testId: string }[];
}

export function renderMessage(root: HTMLElement, screen: MessageScreen): void {
  root.replaceChildren(
    header(),
    h('main', { class: 'message-screen', 'data-testid': 'message-screen', role: 'alert' }, [
      h('h1', { text: t(screen.title) }),
      screen.body ? h('p', { text: t(screen.body) }) : null,
      screen.detail ? h('p', { class: 'end-reason', 'data-testid': 'end-reason', text: t('room.endReason', { reason: screen.detail }) }) : null,
      screen.action
        ? h('button', { class: 'primary', type: 'button', text: t(screen.action.label), onclick: () => screen.action?.run() })
        : null,
      screen.links?.length
        ? h(
            'nav',
            { class: 'message-links' },
            screen.links.map((link, i) => h('a', { class: `button ${i === 0 ? 'primary' : 'secondary'}`, href: link.href, 'data-testid': link.testId, text: t(link.label) })),
          )
        : null,
    ]),
  );
}
