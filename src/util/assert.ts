import { TesseraError } from './errors.js';

/**
 * Assertions stay on in production (TigerBeetle's rule): a broken invariant means the
 * process no longer knows what is true, and stopping is safer than serving wrong data.
 * Operating errors (bad input, I/O failures) are not assertions; raise a TesseraError.
 */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new TesseraError('ASSERTION_FAILED', message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new TesseraError('ASSERTION_FAILED', `${message}: ${JSON.stringify(value)}`);
}
