// The bar on top of every screen: the product name and the language switch.

import { language, setLanguage, t } from '../i18n';
import { h } from './dom';

export function header(): HTMLElement {
  return h('header', { class: 'app-header' }, [
    h('span', { class: 'app-name', text: t('app.title') }),
    h('button', {
      class: 'lang-switch',
      type: 'button',
      'aria-label': t('lang.label'),
      'data-testid': 'language-switch',
      text: t('lang.switch'),
      onclick: () => setLanguage(language() === 'zh-CN' ? 'en' : 'zh-CN'),
    }),
  ]);
}
