// The public verification page (/v/<sha256>), where an agreement's QR code leads: whether an
// agreement with exactly this text is registered here, its status, its organisation, and who
// signed it when (names masked). Never the content: the page is open to anyone holding the
// paper, and the hash alone reveals nothing.

import { AGREEMENT_TIME_ZONE } from '../agreement/format';
import { language } from '../i18n';
import { verifyEn } from '../i18n/verify.en';
import { verifyZh } from '../i18n/verify.zh-CN';
import { h } from '../screens/dom';
import { header } from '../screens/header';
import { hashFromPath, type Lookup, lookUp, type PublicStatus } from './api';

type VerifyKey = keyof typeof verifyZh;

/** The page's strings come from its own catalogue pair, in the app's current language. */
function tv(key: VerifyKey, values: Record<string, string> = {}): string {
  const template = (language() === 'en' ? verifyEn : verifyZh)[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** In Beijing time, as the PDF the reader holds prints it, wherever the reader's phone is. */
function when(ms: number): string {
  return new Date(ms).toLocaleString(language(), { timeZone: AGREEMENT_TIME_ZONE, dateStyle: 'medium', timeStyle: 'short' });
}

type State = { phase: 'checking' } | { phase: 'done'; lookup: Lookup } | { phase: 'failed' };

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountVerify(root: HTMLElement, pathname: string): () => void {
  const sha = hashFromPath(pathname);
  let state: State = sha ? { phase: 'checking' } : { phase: 'done', lookup: { kind: 'badHash' } };
  const render = () => root.replaceChildren(header(), view(sha, state));
  render();
  if (sha) {
    lookUp(sha)
      .then((lookup) => {
        state = { phase: 'done', lookup };
      })
      .catch(() => {
        state = { phase: 'failed' };
      })
      .finally(render);
  }
  return render;
}

function view(sha: string | null, state: State): HTMLElement {
  return h('main', { class: 'intake verify', 'data-testid': 'verify' }, [
    h('h1', { text: tv('verify.title') }),
    sha ? h('p', { class: 'verify-hash' }, [tv('verify.hash'), h('br'), h('code', { class: 'verify-hash-full', 'data-testid': 'verify-hash', text: sha })]) : null,
    ...outcome(state),
    h('p', { class: 'verify-privacy', text: tv('verify.privacy') }),
  ]);
}

function outcome(state: State): HTMLElement[] {
  if (state.phase === 'checking') return [h('p', { role: 'status', text: tv('verify.checking') })];
  if (state.phase === 'failed') return [h('p', { class: 'problem', role: 'alert', text: tv('verify.busy') })];
  const lookup = state.lookup;
  if (lookup.kind === 'badHash') return [h('p', { class: 'problem', role: 'alert', 'data-testid': 'verify-result', text: tv('verify.badHash') })];
  if (lookup.kind === 'busy') return [h('p', { class: 'problem', role: 'alert', text: tv('verify.busy') })];
  return found(lookup.status);
}

function found(status: PublicStatus): HTMLElement[] {
  if (!status.genuine) {
    return [h('p', { class: 'problem verify-result', role: 'alert', 'data-testid': 'verify-result', 'data-genuine': 'false', text: tv('verify.notGenuine') })];
  }
  const details: HTMLElement[] = [
    h('p', { class: 'verify-result verify-genuine', 'data-testid': 'verify-result', 'data-genuine': 'true', text: tv('verify.genuine') }),
  ];
  if (status.organisation) details.push(h('p', { text: tv('verify.organisation', { organisation: status.organisation }) }));
  if (status.status) {
    details.push(h('p', { 'data-testid': 'verify-status', text: tv('verify.status', { status: tv(`verify.status.${status.status}`) }) }));
  }
  if (status.effective_at !== null) details.push(h('p', { text: tv('verify.effective', { time: when(status.effective_at) }) }));
  if (status.signers.length > 0) {
    details.push(
      h('section', {}, [
        h('h2', { text: tv('verify.signers') }),
        h(
          'ul',
          { class: 'verify-signers', 'data-testid': 'verify-signers' },
          status.signers.map((signer) =>
            h('li', {
              text: tv('verify.signedAt', { name: signer.name_masked, role: tv(`verify.role.${signer.role}`), time: when(signer.signed_at) }),
            }),
          ),
        ),
      ]),
    );
  }
  return details;
}
