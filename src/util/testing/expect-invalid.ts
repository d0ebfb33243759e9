/**
 * For tests: asserts that `fn` throws a TesseraError with INVALID_ARGUMENT (the code bad input
 * gets everywhere), showing what was thrown instead when it does not.
 */
import { expect } from 'vitest';
import { isTesseraError } from '../errors.js';

export function expectInvalid(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isTesseraError(thrown, 'INVALID_ARGUMENT'), `threw ${String(thrown)}`).toBe(true);
}
