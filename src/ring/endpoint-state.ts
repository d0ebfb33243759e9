/**
 * The application states a ring node gossips about itself, and their text encodings (gossip
 * values are strings). Keys are short and frozen: nodes of different builds read each other's.
 *
 *   name        the node's name (`tessera node --name`)
 *   dc, rack    its datacenter and rack (replication.ts's network strategy places by them)
 *   tokens      its ring tokens: signed 64-bit decimals joined by ','
 *   status      joining | normal | leaving | left
 *   load        bytes of table data it stores (for `tessera ring`)
 *   schema      digest of its hashed-table schemas (schema-sync.ts); a peer with another
 *               digest is asked for its schemas
 *   progress    what a range movement (bootstrap, decommission, removenode) or a repair has
 *               done so far, for people (`tessera ring`); '' when none runs
 */
import { invalidArgument } from '../util/errors.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';
import { VNODES_MAX } from './token-ring.js';

export const STATE_NAME = 'name';
export const STATE_DATACENTER = 'dc';
export const STATE_RACK = 'rack';
export const STATE_TOKENS = 'tokens';
export const STATE_STATUS = 'status';
export const STATE_LOAD = 'load';
export const STATE_SCHEMA = 'schema';
export const STATE_PROGRESS = 'progress';

export const ENDPOINT_STATUSES = ['joining', 'normal', 'leaving', 'left'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

export function isEndpointStatus(v: string): v is EndpointStatus {
  return (ENDPOINT_STATUSES as readonly string[]).includes(v);
}

/** What a node knows of one endpoint (itself included). */
export interface EndpointInfo {
  readonly id: string;
  readonly name: string;
  readonly datacenter: string;
  readonly rack: string;
  readonly status: EndpointStatus;
  readonly tokens: readonly bigint[];
  readonly load: number;
  readonly schema: string;
  readonly progress: string;
  readonly generation: number;
  readonly heartbeat: number;
  readonly alive: boolean;
}

export function encodeTokens(tokens: readonly bigint[]): string {
  return tokens.map((t) => t.toString()).join(',');
}

/** Parses a tokens state; INVALID_ARGUMENT for anything but in-range decimals, at most VNODES_MAX. */
export function decodeTokens(text: string): bigint[] {
  if (text === '') return [];
  const parts = text.split(',');
  if (parts.length > VNODES_MAX) throw invalidArgument(`more than ${VNODES_MAX} tokens`);
  return parts.map((p) => {
    if (!/^-?\d{1,19}$/.test(p)) throw invalidArgument(`bad token '${p.slice(0, 32)}'`);
    const t = BigInt(p);
    if (t < TOKEN_MIN || t > TOKEN_MAX) throw invalidArgument(`token ${p} is out of range`);
    return t;
  });
}
