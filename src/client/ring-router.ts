/**
 * Token-aware routing for hashed tables, as Cassandra's drivers do it: the client learns the
 * ring (every node's address and tokens, which nodes are up, and each hashed table's
 * placement) from `ring.describe`, computes a row's replicas itself, and sends the request
 * straight to a live one, which then coordinates it with one network hop fewer (its own copy is
 * read and written in-process).
 *
 * The view is refreshed in the background at most every `refreshMs` (a call that finds it
 * stale starts a refresh and does not wait for it); until the first refresh lands, and for
 * tables the view does not know, requests go wherever the caller would have sent them, and
 * the node they reach coordinates them just the same. A node that is not a ring member
 * answers UNKNOWN_METHOD, and the router then stays off for that client.
 */
import type { Env } from '../env/types.js';
import type { TableMethod } from '../model/table-protocol.js';
import {
  murmur3Token,
  replicasFor,
  TokenRing,
  type EndpointPlacement,
  type ReplicationStrategy,
  type RingDescription,
} from '../ring/index.js';

export const RING_REFRESH_MS_DEFAULT = 5_000;
/**
 * A request for a table the view does not know refreshes it sooner, at most this often: the
 * table may have been created since (ordered tables, which are never in the view, cost one
 * ring.describe a second under load).
 */
export const RING_REFRESH_UNKNOWN_TABLE_MS = 1_000;

/** The methods routed by row: each names a table and one row. */
const ROUTED = new Set<TableMethod>(['table.mutate', 'table.get']);

interface RingView {
  readonly ring: TokenRing;
  readonly alive: ReadonlySet<string>;
  readonly tables: ReadonlyMap<string, ReplicationStrategy>;
}

export class RingRouter {
  private view: RingView | undefined;
  private refreshing = false;
  private lastRefreshMicros = -Infinity;
  private off = false;

  constructor(
    private readonly env: Env,
    /** Calls ring.describe on any node the caller can reach. */
    private readonly describe: () => Promise<unknown>,
    private readonly refreshMs = RING_REFRESH_MS_DEFAULT,
  ) {}

  /**
   * The address (`host:port`, the ring's id) of a live replica of the request's row, or
   * undefined to let the caller choose.
   * Starts a refresh when the view is stale.
   */
  route(method: TableMethod, request: unknown): string | undefined {
    if (this.off) return undefined;
    this.maybeRefresh(this.refreshMs);
    if (!ROUTED.has(method) || this.view === undefined) return undefined;
    const r = request as { table?: unknown; row?: unknown; mutation?: { row?: unknown } };
    if (typeof r.table !== 'string') return undefined;
    const strategy = this.view.tables.get(r.table);
    if (strategy === undefined) {
      this.maybeRefresh(RING_REFRESH_UNKNOWN_TABLE_MS);
      return undefined;
    }
    const row = method === 'table.get' ? r.row : r.mutation?.row;
    if (!(row instanceof Uint8Array)) return undefined;
    const ring = this.view.ring;
    if (ring.size === 0) return undefined;
    for (const id of replicasFor(ring, murmur3Token(row), strategy)) {
      if (this.view.alive.has(id)) return id;
    }
    return undefined;
  }

  /** Forgets that a node is up until the next refresh (its connection just failed). */
  markDown(address: string): void {
    if (this.view === undefined || !this.view.alive.has(address)) return;
    const alive = new Set(this.view.alive);
    alive.delete(address);
    this.view = { ...this.view, alive };
  }

  private maybeRefresh(intervalMs: number): void {
    const now = this.env.clock.monoMicros();
    if (this.refreshing || now - this.lastRefreshMicros < intervalMs * 1000) return;
    this.refreshing = true;
    this.lastRefreshMicros = now;
    this.describe()
      .then((d) => {
        this.view = viewOf(d as RingDescription);
      })
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 'UNKNOWN_METHOD') this.off = true;
      })
      .finally(() => {
        this.refreshing = false;
      });
  }
}

function viewOf(d: RingDescription): RingView {
  const placements: EndpointPlacement[] = [];
  const alive = new Set<string>();
  for (const e of d.endpoints) {
    if (e.alive) alive.add(e.id);
    if (e.status !== 'normal' && e.status !== 'leaving') continue;
    if (e.tokens.length === 0) continue;
    placements.push({
      id: e.id,
      tokens: e.tokens.map((t) => BigInt(t)),
      datacenter: e.datacenter,
      rack: e.rack,
    });
  }
  const tables = new Map<string, ReplicationStrategy>();
  for (const t of d.tables) {
    tables.set(
      t.name,
      t.datacenters === undefined
        ? { kind: 'simple', replicationFactor: t.replicationFactor }
        : { kind: 'network', datacenters: t.datacenters },
    );
  }
  return { ring: TokenRing.of(placements), alive, tables };
}
