// The party's page of their case, `/case#token=<case link>`: the agreement in force (status,
// effective date, its PDF), then the application for judicial confirmation. Opened from the
// link the mediator sends ("发送申请链接") or from the end of a session. A bad or expired
// link gets the same message as /join.

import { type Agreement, AgreementApi, errorCode, errorStatus, tokenCall } from '../agreement/api';
import { fingerprint } from '../agreement/format';
import { statusText } from '../agreement/status';
import { t } from '../i18n';
import { checkLink, type LinkProblem, tokenFromLocation } from '../link';
import { h } from '../screens/dom';
import { header } from '../screens/header';
import { type MessageScreen, renderMessage } from '../screens/message-screen';
import { ConfirmationApi, openBlob, problemText } from './api';
import { ApplyFlow } from './apply-flow';
import { exposeForTests, noteError } from './test-hook';
import './confirmation.css';

/** How often the page asks again: the other side's application and the court's steps show up. */
export const REFRESH_MS = 30_000;

const BAD_LINK: Record<LinkProblem, MessageScreen> = {
  missing: { title: 'link.invalid.title', body: 'link.invalid.body' },
  invalid: { title: 'link.invalid.title', body: 'link.invalid.body' },
  expired: { title: 'link.expired.title', body: 'link.expired.body' },
  not_yet: { title: 'link.notYet.title', body: 'link.notYet.body' },
};

export interface PartyCaseOptions {
  location?: { hash: string; search: string };
  nowSeconds?: () => number;
  /** For tests: no 30-second timer. */
  poll?: boolean;
}

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountPartyCase(root: HTMLElement, options: PartyCaseOptions = {}): () => void {
  // The browser tests read `window.ACCORD.confirmation` from the first paint, before any view.
  exposeForTests();
  const token = tokenFromLocation(options.location ?? location);
  const problem = checkLink(token, (options.nowSeconds ?? (() => Date.now() / 1000))());
  if (problem || !token) {
    const screen = BAD_LINK[problem ?? 'invalid'];
    renderMessage(root, screen);
    return () => renderMessage(root, screen);
  }
  const agreements = new AgreementApi(tokenCall(token));
  const api = ConfirmationApi.forToken(token);
  const main = h('main', { class: 'cf-page', 'data-testid': 'party-case' });
  let agreement: Agreement | null = null;
  let loaded = false;
  let notice = '';
  let flow: ApplyFlow | null = null;
  let badLink: MessageScreen | null = null;

  const draw = () => {
    if (badLink) {
      renderMessage(root, badLink);
      return;
    }
    if (!main.isConnected) root.replaceChildren(header(), main);
    flow?.render();
    const intro = !loaded
      ? [h('p', { class: 'cf-muted', text: t('confirm.loading') })]
      : !agreement
        ? [h('p', { 'data-testid': 'party-case-none', text: t('confirm.page.noAgreement') })]
        : agreementCard(agreement, () => {
            const url = agreement?.pdf_url;
            if (!url) return;
            api
              .agreementPdf(url)
              .then(openBlob)
              .catch((error: unknown) => {
                notice = problemText(error);
                draw();
              });
          });
    main.replaceChildren(
      h('h1', { text: t('confirm.page.title') }),
      ...intro,
      notice ? h('p', { class: 'cf-problem', role: 'alert', text: notice }) : '',
      agreement && agreement.status !== 'in_force' ? h('p', { class: 'cf-muted', 'data-testid': 'party-case-not-in-force', text: t('confirm.page.notInForce') }) : '',
      flow ? flow.el : '',
    );
  };

  const load = async () => {
    try {
      agreement = await agreements.ofRoom();
      notice = '';
    } catch (error) {
      // The server refused the link itself (revoked, signed by another key): as /join says.
      noteError(errorCode(error));
      if (errorStatus(error) === 401) badLink = BAD_LINK.invalid;
      else notice = problemText(error);
    }
    loaded = true;
    if (agreement?.status === 'in_force' && !flow) {
      flow = new ApplyFlow({ api, agreementId: agreement.id, phone: true });
      await flow.refresh();
    }
    draw();
  };

  draw();
  void load();
  // A language change redraws the header too (its switch names the other language).
  const rerender = () => {
    if (!badLink) root.replaceChildren(header(), main);
    draw();
  };
  if (options.poll !== false) {
    const timer = setInterval(() => {
      if (!main.isConnected) {
        clearInterval(timer);
        return;
      }
      // The agreement comes into force at the seal; after that only the confirmation moves.
      if (flow) void flow.refresh();
      else void load();
    }, REFRESH_MS);
  }
  return rerender;
}

function agreementCard(agreement: Agreement, openPdf: () => void): HTMLElement[] {
  const final = agreement.final;
  return [
    h('div', { class: 'cf-agreement', 'data-testid': 'party-agreement' }, [
      h('p', {}, [h('strong', { class: `ag-status ${agreement.status}`, 'data-testid': 'party-agreement-status', text: statusText(agreement) })]),
      final ? h('p', { class: 'cf-muted cf-small', text: t('confirm.page.version', { n: String(final.version), hash: fingerprint(final.text_sha256) }) }) : null,
      agreement.pdf_url ? h('button', { type: 'button', class: 'secondary cf-wide', 'data-testid': 'party-agreement-pdf', text: t('confirm.page.pdf'), onclick: openPdf }) : null,
    ]),
  ];
}
