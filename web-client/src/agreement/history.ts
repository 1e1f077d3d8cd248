// Who changed what when, and the finalised versions with their text: GET /history and
// /versions/{n}. Clause ids are shown by their current label; a clause since deleted by
// "a clause since removed".

import { t } from '../i18n';
import { h } from '../screens/dom';
import type { AgreementApi, History } from './api';
import { fingerprint, formatTime, present } from './format';

export class HistoryView {
  readonly el = h('section', { class: 'ag-history', 'data-testid': 'agreement-history' });
  private history: History | null = null;
  private shown: { version: number; text: string; sha: string } | null = null;
  private problem: string | null = null;

  constructor(
    private readonly api: AgreementApi,
    private readonly agreementId: string,
    private readonly labelOf: (clauseId: string) => string,
  ) {}

  async load(): Promise<void> {
    try {
      this.history = await this.api.history(this.agreementId);
      this.problem = null;
    } catch (error) {
      console.warn('[accord] agreement history', error);
      this.problem = t('agreement.historyFailed');
    }
    this.render();
  }

  render(): void {
    const history = this.history;
    this.el.replaceChildren(
      ...present(
      h('h3', { text: t('agreement.history') }),
      this.problem ? h('p', { class: 'problem-text', role: 'alert', text: this.problem }) : null,
      history
        ? h(
            'ol',
            { class: 'ag-history-list' },
            [...history.edits].reverse().map((edit) =>
              h('li', { 'data-testid': 'agreement-history-edit' }, [
                h('span', { class: 'ag-history-when', text: formatTime(edit.last_at) }),
                ' ',
                t('agreement.historyEdit', {
                  name: edit.by_name,
                  clauses: edit.clauses.length ? edit.clauses.map((id) => this.labelOf(id)).join(t('agreement.listSeparator')) : t('agreement.historyTitleOnly'),
                }),
              ]),
            ),
          )
        : null,
      history && history.versions.length
        ? h('div', { class: 'ag-versions' }, [
            h('h4', { text: t('agreement.versions') }),
            h(
              'ul',
              { class: 'plain-list' },
              history.versions.map((v) =>
                h('li', { 'data-testid': 'agreement-version' }, [
                  t('agreement.versionLine', { n: String(v.version), at: formatTime(v.finalised_at), status: t(`agreement.versionStatus.${v.status === 'in_force' ? 'in_force' : v.status === 'superseded' ? 'superseded' : 'final'}`) }),
                  ' ',
                  h('button', { type: 'button', class: 'secondary small', 'data-testid': 'agreement-version-view', text: t('agreement.viewVersion'), onclick: () => void this.showVersion(v.version) }),
                ]),
              ),
            ),
          ])
        : null,
      this.shown
        ? h('div', { class: 'ag-final', 'data-testid': 'agreement-version-text' }, [
            h('p', { class: 'ag-final-meta', text: t('agreement.finalMeta', { n: String(this.shown.version), hash: fingerprint(this.shown.sha) }) }),
            h('pre', { class: 'ag-final-text', text: this.shown.text }),
          ])
        : null,
      ),
    );
  }

  private async showVersion(n: number): Promise<void> {
    try {
      const v = await this.api.version(this.agreementId, n);
      this.shown = { version: v.version, text: v.text, sha: v.text_sha256 };
      this.problem = null;
    } catch (error) {
      console.warn('[accord] agreement version', error);
      this.problem = t('agreement.historyFailed');
    }
    this.render();
  }
}
