/**
 * Scratch roots for a real Env: a fresh directory under the operating system's temporary
 * directory, and its removal. For tests and tools that run real stores on real disks; code
 * under test reaches the files only through the Env rooted there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates `<tmp>/<prefix>XXXXXX` and returns its absolute path. */
export function makeTempRoot(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a root made by makeTempRoot, with everything in it (missing is fine). */
export function removeTempRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
