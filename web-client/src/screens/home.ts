// The front door (`/`): what this service is, and every way in — join a session with the link
// or join code a mediator sent, apply for mediation, follow an application, staff sign-in.
// Someone who opens the server's bare address lands here rather than on a "broken link" page.

import { t } from '../i18n';
import { joinPathFor } from '../link';
import { h } from './dom';
import { header } from './header';

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountHome(root: HTMLElement, go: (path: string) => void = (path) => location.assign(path)): () => void {
  let entered = '';
  let problem = false;
  const render = () => {
    const input = h('input', {
      id: 'join-code',
      name: 'join-code',
      'data-testid': 'join-code',
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      inputmode: 'url',
      enterkeyhint: 'go',
      value: entered,
      'aria-describedby': problem ? 'join-hint join-problem' : 'join-hint',
      'aria-invalid': problem ? 'true' : undefined,
      oninput: (event: Event) => {
        entered = (event.target as HTMLInputElement).value;
      },
    });
    const join = h(
      'form',
      {
        class: 'home-card home-join',
        'data-testid': 'home-join',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const path = joinPathFor(entered);
          problem = path === null;
          if (path) go(path);
          else {
            render();
            root.querySelector<HTMLInputElement>('#join-code')?.focus();
          }
        },
      },
      [
        h('h2', { text: t('home.join.title') }),
        h('div', { class: 'field' }, [
          h('label', { for: 'join-code', text: t('home.join.label') }),
          input,
          h('p', { id: 'join-hint', class: 'hint', text: t('home.join.hint') }),
          problem ? h('p', { id: 'join-problem', class: 'field-error', role: 'alert', 'data-testid': 'join-problem', text: t('home.join.invalid') }) : null,
        ]),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'join-go', text: t('home.join.submit') }),
      ],
    );
    const way = (href: string, testId: string, title: Parameters<typeof t>[0], body: Parameters<typeof t>[0]) =>
      h('a', { class: 'home-card home-way', href, 'data-testid': testId }, [h('strong', { text: t(title) }), h('span', { text: t(body) })]);
    root.replaceChildren(
      header(),
      h('main', { class: 'home', 'data-testid': 'home' }, [
        h('h1', { text: t('home.title') }),
        h('p', { class: 'home-intro', text: t('home.intro') }),
        join,
        h('nav', { class: 'home-ways', 'aria-label': t('home.ways') }, [
          way('/apply', 'home-apply', 'home.apply.title', 'home.apply.body'),
          way('/track', 'home-track', 'home.track.title', 'home.track.body'),
        ]),
        h('p', { class: 'home-staff' }, [h('a', { href: '/staff/login', 'data-testid': 'home-staff', text: t('home.staff') })]),
      ]),
    );
  };
  render();
  return render;
}
