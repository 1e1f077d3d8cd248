// The package as the court reads it on the page: the index of the materials 第三条 asks for
// (each present ✓, or 缺 with why), every file, each opened in place — text and JSON in a
// <pre>, images inline, PDFs in a new tab — and the whole ZIP to download. Files come through
// the staff client (they need the access token), so each is fetched as a blob first.

import { t } from '../i18n';
import { h } from '../screens/dom';
import type { StaffClient } from '../staff/api';
import { sizeWords } from '../review/page';
import { fileUrl, packageUrl } from './api';
import type { CourtRequest, IndexRow, PackageFile } from './types';

/** How a file is shown, by its extension (the server types files the same way, route 10). */
export type FileView = 'pdf' | 'text' | 'image' | 'none';

export function viewOf(path: string): FileView {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
  if (ext === 'pdf') return 'pdf';
  if (ext === 'txt' || ext === 'md' || ext === 'json') return 'text';
  if (ext === 'png' || ext === 'jpg' || ext === 'jpeg') return 'image';
  return 'none';
}

/** What the viewer needs from the page. */
export interface ViewerContext {
  client: StaffClient;
  fail: (error: unknown) => void;
}

/** The package section of a request's page. */
export function packageViewer(request: { id: string; package: NonNullable<CourtRequest['package']> }, context: ViewerContext): HTMLElement {
  const shown = h('div', { class: 'court-file-view', hidden: true, 'data-testid': 'court-file-view' });
  const open = (path: string) => void openFile(request.id, path, shown, context);
  return h('section', { class: 'court-package', 'data-testid': 'court-package' }, [
    h('h2', { text: t('court.package.title') }),
    h('p', {}, [
      h('button', {
        type: 'button',
        class: 'secondary',
        'data-testid': 'court-package-download',
        text: t('court.package.download', { size: sizeWords(request.package.size) }),
        onclick: () => void download(context, packageUrl(request.id), `${request.id}.zip`),
      }),
    ]),
    h('p', { class: 'court-hash' }, [t('court.package.hash'), h('br'), h('code', { text: request.package.sha256 })]),
    h('h3', { text: t('court.package.index') }),
    indexTable(request.package.index, open),
    h('h3', { text: t('court.package.allFiles') }),
    fileList(request.package.files, open),
    shown,
  ]);
}

function indexTable(rows: IndexRow[], open: (path: string) => void): HTMLElement {
  return h('table', { class: 'case-table court-index' }, [
    h('thead', {}, [
      h('tr', {}, [
        h('th', { text: t('court.package.material') }),
        h('th', { text: t('court.package.present') }),
        h('th', { text: t('court.package.files') }),
        h('th', { text: t('court.package.note') }),
      ]),
    ]),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h('tr', { 'data-testid': 'court-index-row', 'data-item': row.item, 'data-present': row.present ? 'true' : 'false' }, [
          h('td', { text: row.required ? row.label : `${row.label}${t('court.package.optional')}` }),
          h('td', { class: row.present ? undefined : 'court-missing', text: row.present ? t('court.package.yes') : t('court.package.missing') }),
          h('td', {}, row.files.map((path) => h('div', {}, [fileLink(path, open)]))),
          h('td', { text: row.note }),
        ]),
      ),
    ),
  ]);
}

function fileLink(path: string, open: (path: string) => void): HTMLElement {
  return h('a', {
    href: '#',
    'data-testid': 'court-file-link',
    'data-path': path,
    text: path,
    onclick: (event: Event) => {
      event.preventDefault();
      open(path);
    },
  });
}

function fileList(files: PackageFile[], open: (path: string) => void): HTMLElement {
  return h(
    'ul',
    { class: 'court-files', 'data-testid': 'court-files' },
    files.map((file) =>
      h('li', { 'data-testid': 'court-file', 'data-path': file.path }, [
        fileLink(file.path, open),
        file.title && file.title !== file.path ? ` — ${file.title}` : '',
        ` (${sizeWords(file.size)})`,
      ]),
    ),
  );
}

/** Shows one package file: a PDF in a new tab, text in a <pre>, an image inline. */
async function openFile(requestId: string, path: string, shown: HTMLElement, context: ViewerContext): Promise<void> {
  const view = viewOf(path);
  // The tab is opened now, while the click still counts as the user's, or a popup blocker
  // would refuse it once the file has arrived.
  const tab = view === 'pdf' ? window.open('', '_blank') : null;
  const close = h('button', { type: 'button', class: 'secondary', text: t('court.package.close'), onclick: () => { shown.hidden = true; shown.replaceChildren(); } });
  shown.hidden = false;
  shown.replaceChildren(h('p', { role: 'status', text: t('court.package.opening') }));
  try {
    const blob = await context.client.blob(fileUrl(requestId, path));
    if (view === 'pdf') {
      const url = URL.createObjectURL(blob);
      if (tab) tab.location.href = url;
      else window.open(url, '_blank');
      shown.hidden = true;
      shown.replaceChildren();
    } else if (view === 'text') {
      shown.replaceChildren(h('h4', { text: path }), h('pre', { 'data-testid': 'court-file-text', text: await blob.text() }), close);
    } else if (view === 'image') {
      shown.replaceChildren(h('h4', { text: path }), h('img', { src: URL.createObjectURL(blob), alt: path, 'data-testid': 'court-file-image' }), close);
    } else {
      shown.replaceChildren(h('p', { text: t('court.package.cannotShow') }), close);
    }
  } catch (error) {
    tab?.close();
    shown.hidden = true;
    context.fail(error);
  }
}

/** Opens a PDF or picture the staff client fetches in a new tab (the ruling document). */
export async function openInTab(context: ViewerContext, url: string): Promise<void> {
  // Opened during the click, or a popup blocker refuses it once the file has arrived.
  const tab = window.open('', '_blank');
  try {
    const href = URL.createObjectURL(await context.client.blob(url));
    if (tab) tab.location.href = href;
    else window.open(href, '_blank');
  } catch (error) {
    tab?.close();
    context.fail(error);
  }
}

/** Saves a file the staff client fetches (it needs the token, so a plain link would not do). */
async function download(context: ViewerContext, url: string, name: string): Promise<void> {
  try {
    const blob = await context.client.blob(url);
    const href = URL.createObjectURL(blob);
    const link = h('a', { href, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
  } catch (error) {
    context.fail(error);
  }
}
