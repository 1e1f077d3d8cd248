// The session's chat and evidence: a drawer on phones, a side panel on desktops. Messages show
// who said them and when; shared files show as thumbnails (images) or links, fetched with the
// join token into blob URLs that are revoked when the room goes. Files come from the camera
// (a photo of a receipt, a damaged wall) or from the phone's files.

import { language, t } from '../i18n';
import type { Room } from '../room/room';
import type { RoomApi, Upload } from '../room/room-api';
import type { LogItem } from '../room/session-log';
import { MAX_CHAT_CHARS } from '../room/session-logic';
import type { SharedEvidence } from '../signal/messages';
import { apiErrorText } from './api-error';
import { h } from './dom';
import { spaceName } from './space-banner';

/** The server's limit; checked here too so a phone does not upload 30 MB to be refused. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;

export class ChatPanel {
  readonly el = h('aside', { class: 'side-panel chat-panel', hidden: true, 'data-testid': 'chat-panel' });
  private readonly list = h('ol', { class: 'chat-list', 'data-testid': 'chat-list' });
  private readonly input = h('input', { type: 'text', class: 'chat-input', 'data-testid': 'chat-input', enterkeyhint: 'send', autocomplete: 'off' });
  private readonly status = h('div', { class: 'chat-status', role: 'status', 'data-testid': 'evidence-status' });
  private readonly urls = new Map<string, string>();
  private readonly failed = new Set<string>();
  private readonly uploads = new Set<Upload>();
  private isOpen = false;
  private disposed = false;

  constructor(
    private readonly room: Room,
    private readonly api: RoomApi,
    private readonly phone: boolean,
    /** Called whenever the unread count may have changed (the badge on the chat button). */
    private readonly onUnread: (count: number) => void,
  ) {
    room.on('log', () => {
      if (this.isOpen) room.log.markRead();
      this.renderList();
      this.onUnread(room.log.unread);
    });
    this.render();
  }

  get opened(): boolean {
    return this.isOpen;
  }

  setOpen(open: boolean): void {
    this.isOpen = open;
    this.el.hidden = !open;
    if (open) {
      this.room.log.markRead();
      this.onUnread(0);
      this.renderList();
      this.list.scrollTop = this.list.scrollHeight;
    }
  }

  /** Redraws every text after a language change; what was typed stays. */
  render(): void {
    const form = h('form', { class: 'chat-form' }, [
      this.input,
      h('button', { type: 'submit', class: 'primary chat-send', 'data-testid': 'chat-send', text: t('chat.send') }),
    ]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.input.placeholder = t('chat.placeholder');
    this.input.setAttribute('aria-label', t('chat.placeholder'));
    const picker = (testId: string, label: string, accept: string, capture: boolean) => {
      const input = h('input', { type: 'file', accept, class: 'visually-hidden', 'data-testid': testId, capture: capture ? 'environment' : undefined });
      input.addEventListener('change', () => {
        for (const file of Array.from(input.files ?? [])) this.upload(file);
        input.value = '';
      });
      return h('label', { class: 'button secondary evidence-pick' }, [input, h('span', { text: label })]);
    };
    this.el.replaceChildren(
      h('header', { class: 'panel-head' }, [
        h('h2', { text: t('chat.title') }),
        h('button', { type: 'button', class: 'panel-close', 'data-testid': 'chat-close', text: t('chat.close'), onclick: () => this.setOpen(false) }),
      ]),
      this.list,
      h('div', { class: 'evidence-row' }, [
        this.phone ? picker('evidence-photo', t('evidence.photo'), 'image/*', true) : null,
        picker('evidence-input', t('evidence.file'), 'image/*,application/pdf', false),
        h('span', { class: 'hint', text: t('evidence.hint') }),
      ]),
      this.status,
      form,
    );
    this.renderList();
  }

  dispose(): void {
    this.disposed = true;
    for (const upload of this.uploads) upload.abort();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }

  private send(): void {
    const text = this.input.value;
    if (!text.trim()) return;
    if (Array.from(text.trim()).length > MAX_CHAT_CHARS) {
      this.showStatus(t('chat.tooLong', { max: String(MAX_CHAT_CHARS) }), true);
      return;
    }
    if (this.room.chat(text)) {
      this.input.value = '';
      this.showStatus('', false);
    } else this.showStatus(t('chat.notSent'), true);
  }

  private upload(file: File): void {
    if (file.size > MAX_FILE_BYTES) {
      this.showStatus(t('apiError.payload_too_large'), true);
      return;
    }
    const progress = h('progress', { max: 100, value: 0 });
    const label = h('span', { text: t('evidence.uploading', { name: file.name, percent: '0' }) });
    const row = h('div', { class: 'upload-row', 'data-testid': 'evidence-upload' }, [label, progress]);
    this.status.append(row);
    const upload = this.api.uploadEvidence(file, (fraction) => {
      const percent = Math.round(fraction * 100);
      progress.value = percent;
      label.textContent = t('evidence.uploading', { name: file.name, percent: String(percent) });
    });
    this.uploads.add(upload);
    upload.done
      .then((answer) => {
        row.remove();
        this.showStatus(t('evidence.uploaded', { name: file.name }), false);
        // The `evidence_shared` frame also brings it; whichever is first shows it.
        if (isSharedEvidence(answer)) this.room.noteEvidence(answer);
      })
      .catch((error: unknown) => {
        row.remove();
        if (this.disposed) return;
        const { text, detail } = apiErrorText(error);
        this.showStatus(t('evidence.failed', { name: file.name, reason: detail ? `${text} (${detail})` : text }), true);
      })
      .finally(() => this.uploads.delete(upload));
  }

  private showStatus(text: string, problem: boolean): void {
    for (const old of this.status.querySelectorAll('.status-line')) old.remove();
    if (!text) return;
    this.status.append(h('p', { class: `status-line${problem ? ' problem-text' : ''}`, role: problem ? 'alert' : undefined, 'data-testid': problem ? 'chat-problem' : 'chat-notice', text }));
  }

  private renderList(): void {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const items = this.room.log.list();
    this.list.replaceChildren(...(items.length ? items.map((item) => this.renderItem(item)) : [h('li', { class: 'chat-empty', text: t('chat.empty') })]));
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  private renderItem(item: LogItem): HTMLElement {
    if (item.kind === 'moved') {
      return h('li', { class: 'chat-divider', text: t('space.movedTo', { space: spaceName(item.space) }) });
    }
    if (item.kind === 'chat') {
      const m = item.message;
      return h('li', { class: `chat-item${item.mine ? ' mine' : ''}`, 'data-testid': 'chat-message', 'data-id': m.id }, [
        this.meta(item.mine ? t('room.you') : m.name, m.at, m.space ? spaceName(m.space) : null),
        h('p', { class: 'chat-text', text: m.text }),
      ]);
    }
    const e = item.evidence;
    return h('li', { class: `chat-item evidence${item.mine ? ' mine' : ''}`, 'data-testid': 'evidence-item', 'data-evidence-id': e.id }, [
      this.meta(item.mine ? t('room.you') : e.shared_by, e.at, null),
      h('p', { class: 'chat-text', text: t('evidence.shared', { name: item.mine ? t('room.you') : e.shared_by }) }),
      this.evidenceBody(e),
    ]);
  }

  private meta(name: string, at: number, space: string | null): HTMLElement {
    const time = new Date(at).toLocaleTimeString(language(), { hour: '2-digit', minute: '2-digit' });
    return h('div', { class: 'chat-meta' }, [
      h('span', { class: 'chat-name', text: name }),
      h('time', { datetime: new Date(at).toISOString(), text: time }),
      space ? h('span', { class: 'chat-space', text: space }) : null,
    ]);
  }

  /** Fetched only once the panel is open: a party on 4G should not pay for files unseen. */
  private evidenceBody(e: SharedEvidence): HTMLElement {
    const url = this.urls.get(e.id);
    if (this.failed.has(e.id)) return h('p', { class: 'problem-text', text: t('evidence.failed', { name: e.name, reason: t('evidence.loadFailed') }) });
    if (!url) {
      if (this.isOpen) void this.load(e.id);
      return h('span', { class: 'evidence-name', text: e.name });
    }
    const image = e.content_type.startsWith('image/');
    return h('a', { class: 'evidence-link', href: url, target: '_blank', rel: 'noopener', download: image ? undefined : e.name, 'data-testid': 'evidence-open' }, [
      image ? h('img', { src: url, alt: e.name, class: 'evidence-thumb' }) : null,
      h('span', { class: 'evidence-name', text: image ? e.name : t('evidence.open', { name: e.name }) }),
    ]);
  }

  private readonly loading = new Set<string>();

  private async load(id: string): Promise<void> {
    if (this.loading.has(id)) return;
    this.loading.add(id);
    try {
      const blob = await this.api.evidenceBlob(id);
      if (this.disposed) return;
      this.urls.set(id, URL.createObjectURL(blob));
    } catch (error) {
      console.warn('[accord] evidence', id, error);
      this.failed.add(id);
    } finally {
      this.loading.delete(id);
    }
    if (!this.disposed) this.renderList();
  }
}

function isSharedEvidence(value: unknown): value is SharedEvidence {
  const v = value as Partial<SharedEvidence> | null;
  return !!v && typeof v.id === 'string' && typeof v.name === 'string' && typeof v.content_type === 'string' && typeof v.at === 'number';
}
