// The bar on top of every screen: the product name and the language switch.

import { language, setLanguage, t } from '../i18n';
import { h } from './dom';

export function header(): HTMLElement {
  return h('header', { class: 'app-header' }, [h('span', { class: 'app-name', text: t('app.title') }), languageSwitch()]);
}

/** The switch between Chinese and English, on every screen (in the room, in its top bar). */
export function languageSwitch(): HTMLButtonElement {
  const button = h('button', {
    class: 'lang-switch',
    type: 'button',
    'data-testid': 'language-switch',
    onclick: () => setLanguage(language() === 'zh-CN' ? 'en' : 'zh-CN'),
  });
  relabelLanguageSwitch(button);
  return button;
}

/** After a language change, for a switch that stays on screen. */
export function relabelLanguageSwitch(button: HTMLButtonElement): void {
  button.setAttribute('aria-label', t('lang.label'));
  button.textContent = t('lang.switch');
}
