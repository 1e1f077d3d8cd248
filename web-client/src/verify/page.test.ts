// @vitest-environment happy-dom
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { checkHook, checkPackageFile, publishedKeys } from './page';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('the verification page’s package check', () => {
  it('takes the platform’s published keys, and none when they cannot be fetched', async () => {
    const keys = await publishedKeys(async () => json({ keys: [{ id: 'k', public_key: 'AAA=' }] }));
    expect(keys).toEqual(['AAA=']);
    expect(await publishedKeys(async () => json({}, 404))).toBeNull();
    expect(await publishedKeys(async () => Promise.reject(new TypeError('offline')))).toBeNull();
  });

  it('calls a file without a manifest unreadable, and tells the tests', async () => {
    const file = Object.assign(new Blob([zipSync({ 'a.txt': new Uint8Array([1]) })]), { name: 'x.zip' });
    const result = await checkPackageFile(file, async () => json({}, 404));
    expect(result.phase).toBe('unreadable');
    expect(checkHook(result)).toEqual({ ok: false, codes: [], paths: [], keysChecked: false, unreadable: true });
  });

  it('reports each problem’s code and path to the tests', async () => {
    const manifest = new TextEncoder().encode('{}');
    const file = Object.assign(new Blob([zipSync({ 'manifest.json': manifest })]), { name: 'p.zip' });
    const result = await checkPackageFile(file, async () => json({}, 404));
    const hook = checkHook(result);
    expect(hook?.ok).toBe(false);
    expect(hook?.codes).toEqual(['manifest_signature', 'manifest_signature']);
    expect(hook?.paths).toEqual(['manifest.sig.json', 'manifest.json']);
    expect(hook?.keysChecked).toBe(false);
  });
});

describe('the verification page', () => {
  it('checks a dropped package and shows the report', async () => {
    const { vi } = await import('vitest');
    const { mountVerify } = await import('./page');
    vi.stubGlobal('fetch', async (url: string) => (String(url).includes('signing-keys') ? json({}, 404) : json({ genuine: false, status: null, effective_at: null, organisation: null, signers: [] })));
    const root = document.createElement('div');
    document.body.replaceChildren(root);
    mountVerify(root, `/v/${'a'.repeat(64)}`);
    const drop = root.querySelector('[data-testid=package-drop]') as HTMLElement;
    const file = new File([zipSync({ 'manifest.json': new TextEncoder().encode('{}') })], 'p.zip', { type: 'application/zip' });
    const event = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(event, 'dataTransfer', { value: { files: [file] } });
    drop.dispatchEvent(event);
    await vi.waitFor(() => expect(root.querySelector('[data-testid=package-ok]')).not.toBeNull());
    expect(root.querySelector('[data-testid=package-ok]')?.getAttribute('data-ok')).toBe('false');
    expect(root.querySelectorAll('[data-testid=package-problems] li').length).toBe(2);
    const hook = (window as unknown as { ACCORD: { packageCheck: { codes: string[] } } }).ACCORD.packageCheck;
    expect(hook.codes).toContain('manifest_signature');
    vi.unstubAllGlobals();
  });
});
