/// <reference types="node" />
// The browser's verifier against `accord verify` on the packages the Rust builder makes
// (cases/tests/package_verify.rs): with ACCORD_WRITE_PACKAGES=<dir> that test writes each
// package as <name>.zip and the Rust report of it as <name>.report.json, with the trusted
// platform keys in trusted.json. Given the same directory as ACCORD_PACKAGES, this test
// checks every one of them here and wants the very same report: codes, paths, words, checks.
// Without it there is nothing to compare, and the test is skipped.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyPackage } from './package';

const dir = process.env.ACCORD_PACKAGES;

/** Objects with their keys sorted, so two reports compare whatever order each wrote them in. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

describe.skipIf(!dir)('the browser verifier and accord verify', () => {
  it('give the same report for every package the Rust builder wrote', async () => {
    const root = dir ?? '';
    const trusted = JSON.parse(readFileSync(join(root, 'trusted.json'), 'utf8')) as string[];
    const names = readdirSync(root).filter((n) => n.endsWith('.zip') && readdirSync(root).includes(n.replace(/\.zip$/, '.report.json')));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const rust = JSON.parse(readFileSync(join(root, name.replace(/\.zip$/, '.report.json')), 'utf8')) as unknown;
      const mine = await verifyPackage(new Uint8Array(readFileSync(join(root, name))), trusted);
      expect({ name, report: canonical(mine) }).toEqual({ name, report: canonical(rust) });
    }
  });
});
