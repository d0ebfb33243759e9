/**
 * The real Random: util's Prng, seeded from the operating system's entropy unless a seed is
 * given (a fixed seed makes a real process's random choices repeatable, e.g. in tests).
 * Not for cryptography: use node:crypto directly where secrets are needed.
 */
import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import type { Random } from '../types.js';

/** A random safe integer (53 bits) from the operating system's entropy. */
export function entropySeed(): number {
  const b = randomBytes(8);
  return (b.readUInt32BE(0) >>> 11) * 0x1_0000_0000 + b.readUInt32BE(4);
}

export function realRandom(seed?: number): Random {
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    throw invalidArgument(`seed must be a safe integer, got ${seed}`, { seed });
  }
  return new Prng(seed ?? entropySeed());
}
