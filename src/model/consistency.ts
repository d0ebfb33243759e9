/**
 * Consistency levels: how many replicas of a hashed table (Dynamo/Cassandra-style ring) must
 * answer a read or acknowledge a write before the coordinator replies. Every read and write of
 * a hashed table names one, as in Cassandra; ordered tables are linearizable (one Raft group
 * per tablet) and accept any level, which they do not need.
 *
 * The levels, for a table with replication factor RF:
 * - `ONE`, `TWO`, `THREE`: that many replicas;
 * - `QUORUM`: a majority, floor(RF / 2) + 1;
 * - `ALL`: every replica;
 * - `LOCAL_ONE`, `LOCAL_QUORUM`: as ONE and QUORUM, counting only replicas in the
 *   coordinator's datacenter (with a single datacenter they are ONE and QUORUM).
 *
 * The default is QUORUM, where Cassandra's drivers default to LOCAL_ONE. A QUORUM write and a
 * QUORUM read together ask 2 × (floor(RF / 2) + 1) > RF replicas, so the two sets always share
 * a replica: a read after an acknowledged write sees it, whichever client wrote. LOCAL_ONE is
 * faster and stays available with more replicas down, but a read may be answered by a replica
 * the write has not reached yet and return stale data until repair catches up; that is a
 * trade a caller should choose per request, not get by default. (The overlap holds only when
 * the write and the read both use QUORUM, or in general when write + read replicas > RF.)
 *
 * Wire format and where requests carry the level: docs/formats/table-rpc.md.
 */
import { invalidArgument } from '../util/errors.js';

/** Every level, in the order messages list them. Names are sent as these exact strings. */
export const CONSISTENCY_LEVELS = [
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'LOCAL_ONE',
  'LOCAL_QUORUM',
] as const;

export type ConsistencyLevel = (typeof CONSISTENCY_LEVELS)[number];

/** The level of a request that names none; see the file comment for why QUORUM. */
export const CONSISTENCY_DEFAULT: ConsistencyLevel = 'QUORUM';

/** Characters of a rejected value an error message repeats; the value may come off the wire. */
const shownCharsMax = 32;

export function isConsistencyLevel(v: unknown): v is ConsistencyLevel {
  return typeof v === 'string' && (CONSISTENCY_LEVELS as readonly string[]).includes(v);
}

/**
 * The level `v` names, case-insensitively (`'quorum'` is QUORUM). Anything else is
 * INVALID_ARGUMENT listing the valid levels; `field` names the argument in the message and in
 * the error's details.
 */
export function parseConsistency(v: unknown, field?: string): ConsistencyLevel {
  // The exact name is the common case (the client and the shell send upper case).
  if (isConsistencyLevel(v)) return v;
  if (typeof v === 'string') {
    const upper = v.toUpperCase();
    if (isConsistencyLevel(upper)) return upper;
  }
  const what = field ?? 'a consistency level';
  throw invalidArgument(
    `${what} must be one of ${CONSISTENCY_LEVELS.join(', ')}, got ${shown(v)}`,
    field === undefined ? undefined : { field },
  );
}

function shown(v: unknown): string {
  if (typeof v !== 'string') return v === null ? 'nil' : typeof v;
  const s = v.length > shownCharsMax ? `${v.slice(0, shownCharsMax)}…` : v;
  return `'${s}'`;
}
