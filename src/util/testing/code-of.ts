/**
 * For tests: the error code a promise settles with — 'ok' when it resolves, the TesseraError's
 * code when it rejects with one, and `foreign …` for any other rejection (which a test should
 * treat as a failure: Tessera raises only TesseraErrors on purpose).
 */
import { isTesseraError } from '../errors.js';

export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? err.code : `foreign ${String(err)}`;
  }
}
