// An invite as the mediator hands it out: the link and the ready message to copy, the QR
// code to show or print, and the buttons to send it by SMS or revoke it.

import { t } from '../i18n';
import { h } from '../screens/dom';
import type { Invite } from './api';

/** What the panel shows besides the invite, and what its buttons do. */
export interface InvitePanelView {
  /** The link as a QR code (a data URL), once drawn. */
  qr: string | null;
  /** The line saying where the last SMS went. */
  sent: string | null;
  /** Whether the person has a phone number on record to text. */
  hasPhone: boolean;
  send: () => void;
  revoke: () => void;
  downloadPng: () => void;
}

/**
 * Copies `text`; where the clipboard API is missing (plain http) or refused, selects the text
 * in `shown` and asks the browser to copy the selection, which leaves it selected for Ctrl+C.
 */
export function copyText(text: string, shown: HTMLInputElement | HTMLTextAreaElement, button: HTMLButtonElement): void {
  const done = () => {
    button.textContent = t('staff.detail.copied');
  };
  const bySelection = () => {
    shown.select();
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch {
      // Not copied: the text stays selected for the person to copy by hand.
    }
    if (copied) done();
    else button.textContent = t('staff.detail.selected');
  };
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, bySelection);
  else bySelection();
}

export function invitePanel(invite: Invite, view: InvitePanelView): HTMLElement {
  const link = h('input', { readonly: true, value: invite.link, 'data-testid': 'invite-link', 'aria-label': t('staff.detail.inviteLink') });
  const message = h('textarea', { readonly: true, rows: 5, 'data-testid': 'invite-message', text: invite.message });
  const copyLink = h('button', { type: 'button', class: 'secondary', 'data-testid': 'invite-copy', text: t('staff.detail.copy') });
  copyLink.addEventListener('click', () => copyText(invite.link, link, copyLink));
  const copyMessage = h('button', {
    type: 'button',
    class: 'secondary',
    'data-testid': 'invite-copy-message',
    text: t('staff.detail.copyMessage'),
  });
  copyMessage.addEventListener('click', () => copyText(invite.message, message, copyMessage));
  return h('div', { class: 'invite-panel', 'data-testid': 'invite-panel', 'data-status': invite.status }, [
    h('h3', { text: `${t('staff.detail.inviteLink')} · ${invite.name}` }),
    h('div', { class: 'invite-body' }, [
      h('div', { class: 'invite-text' }, [
        link,
        copyLink,
        message,
        copyMessage,
        h('div', { class: 'actions' }, [
          h('button', {
            type: 'button',
            class: 'secondary',
            'data-testid': 'invite-send',
            text: t('staff.detail.send'),
            // Only someone with a phone number on record can be sent a text.
            disabled: invite.status !== 'active' || !view.hasPhone,
            title: view.hasPhone ? undefined : t('staff.detail.noPhoneOnRecord'),
            onclick: view.send,
          }),
          h('button', {
            type: 'button',
            class: 'secondary',
            'data-testid': 'invite-revoke',
            text: t('staff.detail.revoke'),
            onclick: view.revoke,
          }),
        ]),
        view.sent ? h('p', { 'data-testid': 'invite-sent', text: view.sent }) : null,
      ]),
      view.qr
        ? h('figure', { class: 'invite-qr' }, [
            h('img', { src: view.qr, alt: t('staff.detail.qr'), 'data-testid': 'invite-qr' }),
            h('figcaption', {}, [
              t('staff.detail.qr'),
              ' · ',
              h('a', {
                href: '#',
                'data-testid': 'invite-qr-png',
                text: 'PNG',
                onclick: (event: Event) => {
                  event.preventDefault();
                  view.downloadPng();
                },
              }),
            ]),
          ])
        : null,
    ]),
  ]);
}
