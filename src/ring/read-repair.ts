/**
 * Read repair: after a read found replicas disagreeing, what each answering replica lacks of
 * the union of their raw entries, to be written back to it (Dynamo's read repair, Cassandra's
 * blocking read repair).
 *
 * The union resolves, by timestamp, into what the read answered; a replica holding all of it
 * answers the same from then on. Entries are compared whole — coordinates, timestamp, kind and
 * value — so a replica holding a put at one timestamp with a smaller value than another
 * replica's gets the greater one, which its store then reads (same cell key, newer sequence),
 * as every coordinator's merge picks the greater value too (raw-row.ts).
 */
import type { RawEntry } from '../storage/index.js';
import { toHex } from '../util/bytes.js';

function entryKey(e: RawEntry): string {
  return `${toHex(e.family)}/${toHex(e.qualifier)}/${e.timestamp}/${e.kind}/${toHex(e.value)}`;
}

/**
 * Per answering replica, the entries of the union it does not hold; replicas missing nothing
 * are left out.
 */
export function missingEntries(
  answers: readonly { readonly id: string; readonly entries: readonly RawEntry[] }[],
): { id: string; missing: RawEntry[] }[] {
  const union = new Map<string, RawEntry>();
  const held = answers.map((a) => {
    const keys = new Set<string>();
    for (const e of a.entries) {
      const k = entryKey(e);
      keys.add(k);
      if (!union.has(k)) union.set(k, e);
    }
    return keys;
  });
  const out: { id: string; missing: RawEntry[] }[] = [];
  answers.forEach((a, i) => {
    const missing: RawEntry[] = [];
    for (const [k, e] of union) if (!held[i]!.has(k)) missing.push(e);
    if (missing.length > 0) out.push({ id: a.id, missing });
  });
  return out;
}
