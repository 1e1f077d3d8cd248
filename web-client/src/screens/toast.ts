// Short notices over the room ("调解员已将您静音", someone raised a hand) and prompts that wait
// for the person (a mediator asks them to unmute: only their own tap turns it on).

import { t } from '../i18n';
import { h } from './dom';

export interface ToastAction {
  label: string;
  testId: string;
  run: () => void;
}

export interface ToastOptions {
  testId: string;
  actions?: ToastAction[];
  /** Stays until an action or "知道了" is tapped; otherwise it goes after a few seconds. */
  sticky?: boolean;
  /** A newer toast with the same key replaces this one instead of stacking under it. */
  key?: string;
}

const SHOWN_MS = 5_000;
const MAX_SHOWN = 4;

export class Toasts {
  readonly el = h('div', { class: 'toasts', 'aria-live': 'polite' });
  private readonly byKey = new Map<string, HTMLElement>();

  /** Shows a notice; returns a function that takes it away. */
  show(text: string, options: ToastOptions): () => void {
    if (options.key) this.byKey.get(options.key)?.remove();
    const toast = h('div', { class: 'toast', role: options.sticky ? 'alertdialog' : 'status', 'data-testid': options.testId });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const dismiss = () => {
      clearTimeout(timer);
      toast.remove();
      if (options.key && this.byKey.get(options.key) === toast) this.byKey.delete(options.key);
    };
    const actions = (options.actions ?? []).map((action) =>
      h('button', {
        type: 'button',
        class: 'toast-action',
        'data-testid': action.testId,
        text: action.label,
        onclick: () => {
          dismiss();
          action.run();
        },
      }),
    );
    if (options.sticky) {
      actions.push(h('button', { type: 'button', class: 'toast-dismiss', 'data-testid': `${options.testId}-dismiss`, text: t('room.dismiss'), onclick: dismiss }));
    } else timer = setTimeout(dismiss, SHOWN_MS);
    toast.append(h('span', { class: 'toast-text', text }), ...(actions.length ? [h('span', { class: 'toast-actions' }, actions)] : []));
    this.el.append(toast);
    if (options.key) this.byKey.set(options.key, toast);
    // A burst (ten people raising hands) must not cover the room; a prompt waiting for an
    // answer outlives notices.
    while (this.el.children.length > MAX_SHOWN) {
      const oldest = Array.from(this.el.children).find((el) => el.getAttribute('role') !== 'alertdialog') ?? this.el.firstElementChild;
      oldest?.remove();
    }
    return dismiss;
  }

  /** Takes away the toast shown with `key`, if it is still up. */
  dismiss(key: string): void {
    this.byKey.get(key)?.remove();
    this.byKey.delete(key);
  }

  clear(): void {
    this.el.replaceChildren();
    this.byKey.clear();
  }
}
