/**
 * Per-column-family retention settings the storage engine applies on reads (row-resolver.ts)
 * and compactions (compaction-filter.ts).
 */
import { invalidArgument } from '../util/errors.js';

export interface FamilyOptions {
  /**
   * How many versions of each column are kept: a read sees at most the newest `maxVersions`
   * surviving (unmasked, unexpired, not overwritten) versions, and a bottommost compaction
   * drops the rest. Default: unlimited (Number.MAX_SAFE_INTEGER).
   */
  readonly maxVersions: number;
  /**
   * Time to live in microseconds: a put with timestamp + ttlMicros <= now is expired, invisible
   * to reads and dropped by compactions. Undefined: puts never expire.
   */
  readonly ttlMicros: number | undefined;
}

export const defaultFamilyOptions: FamilyOptions = Object.freeze({
  maxVersions: Number.MAX_SAFE_INTEGER,
  ttlMicros: undefined,
});

/**
 * The options of a family, given its name bytes. Called once per (row, family) a read or a
 * compaction meets, so it should be a cheap lookup; it must not keep the array it is given
 * (it may be a view of a reused buffer).
 */
export type FamilyOptionsLookup = (family: Uint8Array) => FamilyOptions;

/** Raises INVALID_ARGUMENT unless `o` holds a positive integer maxVersions and a TTL >= 1. */
export function checkFamilyOptions(o: FamilyOptions): void {
  if (!Number.isSafeInteger(o.maxVersions) || o.maxVersions < 1) {
    throw invalidArgument(`family maxVersions must be an integer >= 1, got ${o.maxVersions}`);
  }
  if (o.ttlMicros !== undefined && (!Number.isSafeInteger(o.ttlMicros) || o.ttlMicros < 1)) {
    throw invalidArgument(`family ttlMicros must be an integer >= 1, got ${o.ttlMicros}`);
  }
}
