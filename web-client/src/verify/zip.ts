// Reading a confirmation package (a ZIP) in the browser, entirely locally: nothing is uploaded.

import { type UnzipFileInfo, unzipSync } from 'fflate';

/** A package's files by their path inside the ZIP (directories left out). */
export type PackageFiles = Map<string, Uint8Array>;

/** The bytes could not be read as a ZIP (or one would unpack beyond what a page should hold). */
export class UnreadablePackage extends Error {}

/**
 * The most a package may unpack to. Real packages hold documents and recording references,
 * not the recordings: tens of megabytes. The cap keeps a hostile ZIP (a "bomb") from taking
 * the visitor's tab down.
 */
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;

export function readZip(bytes: Uint8Array): PackageFiles {
  let total = 0;
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(bytes, {
      filter: (file: UnzipFileInfo) => {
        total += file.originalSize;
        if (total > MAX_UNPACKED_BYTES) throw new UnreadablePackage('the package unpacks to more than 1 GiB');
        return !file.name.endsWith('/');
      },
    });
  } catch (error) {
    if (error instanceof UnreadablePackage) throw error;
    throw new UnreadablePackage(`not a readable ZIP: ${error instanceof Error ? error.message : String(error)}`);
  }
  return new Map(Object.entries(unpacked));
}
