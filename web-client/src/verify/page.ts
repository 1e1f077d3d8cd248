// The public verification page (/v/<sha256>), where an agreement's QR code leads: whether an
// agreement with exactly this text is registered here, its status, its organisation, and who
// signed it when (names masked). Never the content: the page is open to anyone holding the
// paper, and the hash alone reveals nothing.
//
// Below it, anyone holding a judicial confirmation package (a court clerk, a party) can drop
// the ZIP to check it: the check runs here, in the browser, and nothing is uploaded. The
// manifest's key is checked against the keys this platform publishes, as
// `accord verify --keys signing-keys.json` does.

import './package.css';
import { AGREEMENT_TIME_ZONE } from '../agreement/format';
import { language } from '../i18n';
import { verifyEn } from '../i18n/verify.en';
import { verifyZh } from '../i18n/verify.zh-CN';
import { h } from '../screens/dom';
import { header } from '../screens/header';
import { hashFromPath, type Lookup, lookUp, type PublicStatus } from './api';
import { type PackageReport, UnreadablePackage, verifyPackage } from './package';

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

/** The package check below the lookup: nothing yet, running, its report, or not a package. */
export type PackageState =
  | { phase: 'idle' }
  | { phase: 'checking'; name: string }
  | { phase: 'done'; name: string; report: PackageReport; keysChecked: boolean }
  | { phase: 'unreadable'; name: string }
  | { phase: 'failed'; name: string };

/** What a browser test reads after a check: `window.ACCORD.packageCheck`. */
export interface PackageCheckHook {
  ok: boolean;
  /** One per problem, in the report's order; `paths` is parallel to it. */
  codes: string[];
  paths: string[];
  keysChecked: boolean;
  unreadable: boolean;
}

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountVerify(root: HTMLElement, pathname: string): () => void {
  const sha = hashFromPath(pathname);
  let state: State = sha ? { phase: 'checking' } : { phase: 'done', lookup: { kind: 'badHash' } };
  let pack: PackageState = { phase: 'idle' };
  let latest = 0;
  const onFile = (file: File) => {
    const mine = ++latest;
    pack = { phase: 'checking', name: file.name };
    render();
    void checkPackageFile(file)
      .catch((): PackageState => ({ phase: 'failed', name: file.name }))
      .then((result) => {
        if (mine !== latest) return; // a newer file was dropped meanwhile
        pack = result;
        exposeCheck(result);
        render();
      });
  };
  const render = () => root.replaceChildren(header(), view(sha, state, pack, onFile));
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

function view(sha: string | null, state: State, pack: PackageState, onFile: (file: File) => void): HTMLElement {
  return h('main', { class: 'intake verify', 'data-testid': 'verify' }, [
    h('h1', { text: tv('verify.title') }),
    sha ? h('p', { class: 'verify-hash' }, [tv('verify.hash'), h('br'), h('code', { class: 'verify-hash-full', 'data-testid': 'verify-hash', text: sha })]) : null,
    ...outcome(state),
    h('p', { class: 'verify-privacy', text: tv('verify.privacy') }),
    packageSection(pack, onFile),
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
  if (status.confirmation) details.push(confirmationLine(status.confirmation));
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

function confirmationLine(confirmation: NonNullable<PublicStatus['confirmation']>): HTMLElement {
  const key = `verify.confirmation.${confirmation.status}`;
  // A status newer than this page is shown as the server spells it.
  const status = key in verifyZh ? tv(key as VerifyKey) : confirmation.status;
  return h('div', { class: 'verify-confirmation', 'data-testid': 'verify-confirmation', 'data-status': confirmation.status }, [
    h('p', { text: tv('verify.confirmation', { status }) }),
    confirmation.court ? h('p', { text: tv('verify.confirmation.court', { court: confirmation.court }) }) : null,
    confirmation.decided_at !== null ? h('p', { text: tv('verify.confirmation.decidedAt', { time: when(confirmation.decided_at) }) }) : null,
  ]);
}

/**
 * The platform's published signing keys (base64), or null when they cannot be had — an
 * offline copy of the page, or the server not answering — and the report then says so.
 */
export async function publishedKeys(fetcher: typeof fetch = (input, init) => fetch(input, init)): Promise<string[] | null> {
  try {
    const response = await fetcher('/.well-known/accord/signing-keys.json');
    if (!response.ok) return null;
    const body = (await response.json()) as { keys?: { public_key?: unknown }[] };
    const keys = (body.keys ?? []).map((k) => k.public_key).filter((k): k is string => typeof k === 'string');
    return keys.length > 0 ? keys : null;
  } catch {
    return null;
  }
}

/** Checks one dropped or chosen file, entirely here. */
export async function checkPackageFile(file: Blob & { name: string }, fetcher?: typeof fetch): Promise<PackageState> {
  const [bytes, keys] = await Promise.all([file.arrayBuffer(), publishedKeys(fetcher)]);
  try {
    const report = await verifyPackage(new Uint8Array(bytes), keys ?? undefined);
    return { phase: 'done', name: file.name, report, keysChecked: keys !== null };
  } catch (error) {
    if (error instanceof UnreadablePackage) return { phase: 'unreadable', name: file.name };
    throw error;
  }
}

/** What the browser tests read (see PackageCheckHook). */
export function checkHook(result: PackageState): PackageCheckHook | null {
  if (result.phase === 'unreadable') return { ok: false, codes: [], paths: [], keysChecked: false, unreadable: true };
  if (result.phase !== 'done') return null;
  return {
    ok: result.report.ok,
    codes: result.report.problems.map((p) => p.code),
    paths: result.report.problems.map((p) => p.path),
    keysChecked: result.keysChecked,
    unreadable: false,
  };
}

function exposeCheck(result: PackageState): void {
  const w = window as unknown as { ACCORD?: Record<string, unknown> };
  w.ACCORD ??= {};
  w.ACCORD.packageCheck = checkHook(result);
}

function packageSection(pack: PackageState, onFile: (file: File) => void): HTMLElement {
  const input = h('input', {
    type: 'file',
    accept: '.zip,application/zip',
    'data-testid': 'package-file-input',
    onchange: (event: Event) => {
      const file = (event.target as HTMLInputElement).files?.[0];
      if (file) onFile(file);
    },
  });
  const drop = h(
    'div',
    {
      class: 'verify-drop',
      'data-testid': 'package-drop',
      ondragover: (event: Event) => {
        event.preventDefault();
        drop.classList.add('verify-drop-over');
      },
      ondragleave: () => drop.classList.remove('verify-drop-over'),
      ondrop: (event: Event) => {
        event.preventDefault();
        drop.classList.remove('verify-drop-over');
        const file = (event as DragEvent).dataTransfer?.files?.[0];
        if (file) onFile(file);
      },
    },
    [h('p', { class: 'verify-drop-title', text: tv('verify.package.drop') }), h('label', {}, [tv('verify.package.choose'), ' ', input])],
  );
  return h('section', { class: 'verify-package' }, [
    h('h2', { text: tv('verify.package.title') }),
    drop,
    h('p', { class: 'verify-privacy', text: tv('verify.package.local') }),
    packageOutcome(pack),
  ]);
}

function packageOutcome(pack: PackageState): HTMLElement | null {
  if (pack.phase === 'idle') return null;
  if (pack.phase === 'checking') return h('p', { role: 'status', text: tv('verify.package.checking', { name: pack.name }) });
  if (pack.phase === 'failed') {
    return h('div', { 'data-testid': 'package-report' }, [
      h('p', { class: 'problem', role: 'alert', 'data-testid': 'package-ok', 'data-ok': 'false', text: tv('verify.package.cannotCheck') }),
    ]);
  }
  if (pack.phase === 'unreadable') {
    return h('div', { 'data-testid': 'package-report' }, [
      h('p', { class: 'problem', role: 'alert', 'data-testid': 'package-ok', 'data-ok': 'false', text: tv('verify.package.unreadable', { name: pack.name }) }),
    ]);
  }
  const { report } = pack;
  const english = language() === 'en';
  return h('div', { class: 'verify-package-report', 'data-testid': 'package-report' }, [
    h('p', {
      class: report.ok ? 'verify-result verify-genuine' : 'problem verify-result',
      role: report.ok ? 'status' : 'alert',
      'data-testid': 'package-ok',
      'data-ok': report.ok ? 'true' : 'false',
      text: report.ok ? tv('verify.package.ok') : tv('verify.package.failed', { count: String(report.problems.length) }),
    }),
    h('p', { text: tv(pack.keysChecked ? 'verify.package.keysChecked' : 'verify.package.keysUnchecked') }),
    report.problems.length > 0
      ? h('section', {}, [
          h('h3', { text: tv('verify.package.problems') }),
          h(
            'ul',
            { 'data-testid': 'package-problems' },
            report.problems.map((p) =>
              h('li', { 'data-code': p.code, 'data-path': p.path }, [h('code', { text: p.path }), english ? `: ${p.message_en} ` : `：${p.message_zh} `, h('small', { text: `[${p.code}]` })]),
            ),
          ),
        ])
      : null,
    h('section', {}, [
      h('h3', { text: tv('verify.package.checks') }),
      h(
        'ul',
        { 'data-testid': 'package-checks' },
        report.checks.map((c) =>
          h('li', {
            'data-check': c.what,
            'data-ok': c.ok ? 'true' : 'false',
            class: c.ok ? undefined : 'verify-check-failed',
            text: tv(c.ok ? 'verify.package.checkOk' : 'verify.package.checkFailed', { name: tv(`verify.package.check.${c.what}`) }),
          }),
        ),
      ),
    ]),
  ]);
}
