/**
 * Voter sets: their encoding inside config entries, quorum arithmetic and single-voter change.
 */
import { corruption, invalidArgument } from '../util/errors.js';
import type { ConfChange, Config, NodeId } from './types.js';

/** Bound on a voter set; Raft groups here are 3 or 5 replicas, so this is generous. */
export const VOTERS_MAX = 64;

export function makeConfig(voters: Iterable<NodeId>): Config {
  const sorted = [...new Set(voters)].sort((a, b) => a - b);
  for (const id of sorted) {
    if (!(Number.isInteger(id) && id > 0 && id <= 0xffff_ffff)) {
      throw invalidArgument(`voter id must be a positive 32-bit integer, got ${id}`);
    }
  }
  if (sorted.length > VOTERS_MAX) throw invalidArgument(`more than ${VOTERS_MAX} voters`);
  return { voters: sorted };
}

export function isVoter(config: Config, id: NodeId): boolean {
  return config.voters.includes(id);
}

export function quorum(config: Config): number {
  return Math.floor(config.voters.length / 2) + 1;
}

/** The config after one voter is added or removed. */
export function applyConfChange(config: Config, change: ConfChange): Config {
  if (change.kind === 'add') {
    if (isVoter(config, change.id)) throw invalidArgument(`${change.id} is already a voter`);
    return makeConfig([...config.voters, change.id]);
  }
  if (!isVoter(config, change.id)) throw invalidArgument(`${change.id} is not a voter`);
  const voters = config.voters.filter((v) => v !== change.id);
  if (voters.length === 0) throw invalidArgument('cannot remove the last voter');
  return makeConfig(voters);
}

/** Config entry data: u32 count, then each voter as a u32, big-endian. */
export function encodeConfig(config: Config): Uint8Array {
  const out = new Uint8Array(4 + 4 * config.voters.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, config.voters.length);
  config.voters.forEach((id, i) => view.setUint32(4 + 4 * i, id));
  return out;
}

export function decodeConfig(data: Uint8Array): Config {
  if (data.length < 4) throw corruption('config entry shorter than its header');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(0);
  if (count > VOTERS_MAX || data.length !== 4 + 4 * count) {
    throw corruption(`config entry of ${data.length} bytes cannot hold ${count} voters`);
  }
  const voters: NodeId[] = [];
  for (let i = 0; i < count; i++) voters.push(view.getUint32(4 + 4 * i));
  const config = makeConfig(voters);
  // Stored bytes, not an invariant of this process: damage is CORRUPTION, not an assertion.
  if (config.voters.length !== count) throw corruption('config entry repeats a voter');
  return config;
}
