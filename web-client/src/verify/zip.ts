// Reading a confirmation package (a ZIP) in the browser, entirely locally: nothing is uploaded.

import { type UnzipFileInfo, unzipSync } from 'fflate';

/** A package's files by their path inside the ZIP (directories left out). */
export type PackageFiles = Map<string, Uint8Array>;

/** The bytes could not be read as a ZIP (or one would unpack beyond what a page should hold). */
export class UnreadablePackage extends Error {}

/**
 * The most a package may unpack to. Real packages hold documents and recording references,
 * not the recordings: tens of megabytes. The cap keeps a hostile ZIP (a "bomb") from taking
 * the visitor's tab down. The same bound as `accord verify`.
 */
export const MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024;

export function readZip(bytes: Uint8Array): PackageFiles {
  let total = 0;
  const names = new Set<string>();
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(bytes, {
      filter: (file: UnzipFileInfo) => {
        if (file.name.endsWith('/')) return false;
        total += file.originalSize;
        if (total > MAX_UNPACKED_BYTES) throw new UnreadablePackage('the ZIP unpacks to more than 2 GiB; it is not a confirmation package');
        // Two entries of one name would show one file and hide the other: refused, as the CLI does.
        if (names.has(file.name)) throw new UnreadablePackage(`the ZIP holds ${file.name} twice`);
        names.add(file.name);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof UnreadablePackage) throw error;
    throw new UnreadablePackage(`not a readable ZIP: ${error instanceof Error ? error.message : String(error)}`);
  }
  return new Map(Object.entries(unpacked));
}
