/**
 * A ring node: the driver that runs one node's part of the hashed-table ring on an Env.
 *
 * It owns the I/O around the pure pieces: it persists the node's tokens and generation
 * (node.json), runs a gossip round every second (membership.ts) and sends its messages over
 * RPC (peer-pool.ts), keeps the hashed-table schemas in step with the ring (schema-sync.ts),
 * serves the replica side of the `ring.*` methods (ring-protocol.ts), and gives the native
 * protocol's `table.*` handlers a coordinator for hashed tables (hashed-tables.ts).
 *
 * Start-up: every start takes a generation larger than the last one's (max(last + 1,
 * wall-clock seconds)), so peers see the restart and drop what they knew of the old process.
 * Tokens are chosen once and kept for good. The nodes of a new ring draw random tokens and are
 * normal at once (they hold no data). A node added to a ring that holds data is started with
 * `bootstrap` (`tessera node --bootstrap`, Cassandra's auto_bootstrap): it waits to know the
 * ring and its schemas, takes tokens that give
 * it its share of the ring (token-allocation.ts), gossips them as joining, waits for
 * coordinators to learn it (ringDelayMs) and streams exactly the ranges that move to it
 * (range-movement.ts) before it turns normal and serves them. node.json records whether the
 * bootstrap finished; one cut short by a crash runs again at the next start.
 *
 * Healing (part 2 of the hashed-table work): hints kept for down replicas (hint-store.ts) are
 * replayed once a gossip round sees their target alive; repair sessions (repair.ts) compare
 * replicas by Merkle trees and stream what differs, on request (`tessera repair`) or every
 * repairIntervalMs; decommission and removenode move ranges away from a node.
 */
import type { Env, Timer } from '../env/index.js';
import type { Mutation, Tablet, TableSchema } from '../model/index.js';
import {
  type Database,
  requestChecks,
  type GetSpec,
  type TableDispatcher,
  type TableCaller,
  type WireCells,
  wireCells,
} from '../model/index.js';
import { RateLimiter, type RawEntry } from '../storage/index.js';
import { invalidArgument, isTesseraError, TesseraError, toTesseraError } from '../util/errors.js';
import type { RpcServer } from '../wire/index.js';
import {
  cellsDigest,
  Coordinator,
  type CoordinatorOptions,
  type ReplicaTransport,
  strategyOf,
} from './coordinator.js';
import { HINT_WINDOW_MICROS_DEFAULT, HintStore } from './hint-store.js';
import { MERKLE_DEPTH_MAX } from './merkle.js';
import {
  applyRows,
  buildLeaves,
  type DigestsPage,
  readDigestsPage,
  readRowsByKey,
  readRowsPage,
  type RawRow,
  type RowsPage,
  tokenIntervals,
} from './range-data.js';
import {
  bootstrapPlan,
  decommissionPlan,
  type MovementHost,
  moveRanges,
  removePlan,
} from './range-movement.js';
import { emptyRepairStats, repairTable, type RepairGroup, type RepairStats } from './repair.js';
import type { Interval, RangeTransport } from './streaming.js';
import { allocateTokens } from './token-allocation.js';
import { groupByReplicas, replicaRanges } from './token-ranges.js';
import { encodeTokens, decodeTokens } from './endpoint-state.js';
import { GOSSIP_INTERVAL_MS, type GossipMessage, type Outgoing } from './gossip.js';
import { HashedTableCaller } from './hashed-tables.js';
import { Membership, type KnownPeer } from './membership.js';
import { PeerPool } from './peer-pool.js';
import { effectiveOwnership } from './replication.js';
import {
  checkWireCells,
  entriesFromWire,
  entriesToWire,
  intervalsFromWire,
  intervalsToWire,
  rowsFromWire,
  rowsToWire,
  type DescribedTable,
  type RepairSessionInfo,
  type RingDescription,
} from './ring-protocol.js';
import { checkSchemaEntries, RingSchema, type SchemaEntry } from './schema-sync.js';
import { readStateFile, writeStateFile } from './state-file.js';
import { randomTokens, VNODES_DEFAULT, VNODES_MAX } from './token-ring.js';

export const NODE_FILE = 'node.json';
/** The ring's other endpoints as last known (membership.ts's KnownPeer), for restarts. */
export const PEERS_FILE = 'peers.json';
/** How long a gossip message, or a schema pull or push, may take. */
export const GOSSIP_CALL_TIMEOUT_MS = 1000;
export const SCHEMA_CALL_TIMEOUT_MS = 2000;
export const DATACENTER_DEFAULT = 'dc1';
export const RACK_DEFAULT = 'rack1';
/** How long tree building, a page of rows or applying one may take on a replica. */
export const STREAM_CALL_TIMEOUT_MS = 120_000;
/** Most rows of one ring.digests reply and one ring.fetch request. */
export const DIGESTS_PAGE_ROWS_MAX = 20_000;
export const FETCH_ROWS_MAX = 1000;
/** Attempts of one such call when the connection fails (see RingNode.streamCall). */
export const STREAM_CALL_ATTEMPTS = 5;
/**
 * How long a ring change takes to reach every coordinator by gossip before a node relies on it
 * (Cassandra's RING_DELAY, 30 s there; gossip here reaches 100 nodes in ~5 rounds).
 */
export const RING_DELAY_MS_DEFAULT = 5000;
/**
 * The rate a node reads (for trees and digests) and streams for repair and range movements
 * when none is given. `tessera bench repair` (docs/benchmarks.md): at 64 MiB/s a repair took
 * foreground p99 from 5 ms to ~120 ms, at 16 to ~70 ms, at 8 to ~27 ms, each halving doubling
 * the repair's time. 16 MiB/s is Cassandra's old compaction throughput default.
 */
export const STREAM_RATE_BYTES_PER_SEC_DEFAULT = 16 * 1024 * 1024;

export interface RingNodeOptions {
  /** The node's name, for people (`tessera ring`). */
  readonly name: string;
  /** The node's RPC address, `host:port`: its id on the ring. */
  readonly address: string;
  /** Addresses of seed nodes; may include this node's. */
  readonly seeds: readonly string[];
  readonly datacenter?: string;
  readonly rack?: string;
  /** Tokens drawn at the first start (default VNODES_DEFAULT); ignored afterwards. */
  readonly vnodes?: number;
  /** Directory of the ring's state files, relative to the Env's root. */
  readonly dir: string;
  /** The node's tables: hashed tables' replicas live here beside ordered tables. */
  readonly database: Database;
  /** Phi above which a peer is down (default 8). */
  readonly phiThreshold?: number;
  readonly gossipIntervalMs?: number;
  readonly coordinator?: CoordinatorOptions;
  /** Hints older than this are dropped, not replayed (default 3 h, Cassandra's max_hint_window). */
  readonly hintWindowMs?: number;
  /** Bytes of hints kept per down replica (default 128 MiB). */
  readonly hintsMaxBytesPerTarget?: number;
  /**
   * A new node joining a ring that holds data: choose tokens once the ring is known and stream
   * their ranges before serving them (see the header). Default false: the nodes of a new ring
   * start together with random tokens and nothing to stream.
   */
  readonly bootstrap?: boolean;
  /** See RING_DELAY_MS_DEFAULT. */
  readonly ringDelayMs?: number;
  /** Repair every table's ranges this node is first replica of, this often (default: never). */
  readonly repairIntervalMs?: number;
  /** Bytes per second this node streams for repair and range movements (0: unlimited). */
  readonly streamRateBytesPerSec?: number;
  /** Merkle tree depth for repair (default: repairDepth's choice, 8–15). */
  readonly merkleDepth?: number;
}

interface NodeFile {
  readonly tokens: bigint[];
  readonly generation: number;
  /** False while a bootstrap has not finished (see the header). */
  readonly bootstrapped: boolean;
  /** True once the node was decommissioned: it must not rejoin with these tokens. */
  readonly decommissioned?: boolean;
}

/**
 * Leaves one endpoint builds for one table's repair, over all its replica sets: 8 MiB, so the
 * reply fits a frame (16 MiB by default) with room to spare.
 */
const REPAIR_LEAVES_PER_ENDPOINT = 1 << 19;
/** The most leaf bytes one ring.leaves reply may carry (below the 16 MiB frame default). */
const LEAVES_REPLY_BYTES_MAX = 12 * 1024 * 1024;
/** Tree depths the repair picks from when none is configured. */
const REPAIR_DEPTH_MIN = 8;
const REPAIR_DEPTH_MAX = 15;

/**
 * The Merkle depth of a table's repair: as deep as the replica sets an endpoint belongs to
 * allow within REPAIR_LEAVES_PER_ENDPOINT. A set covers about RF/N of the token space, so on
 * a small ring one set holds everything and deserves fine leaves (2^15: a differing leaf of a
 * 100,000-row table streams ~3 rows, not the ~25 of 2^12), while on a large ring each endpoint
 * is in hundreds of sets, each holding little.
 */
export function repairDepth(groups: readonly RepairGroup[]): number {
  const perEndpoint = new Map<string, number>();
  for (const g of groups)
    for (const e of g.replicas) perEndpoint.set(e, (perEndpoint.get(e) ?? 0) + 1);
  const most = Math.max(1, ...perEndpoint.values());
  const depth = Math.floor(Math.log2(REPAIR_LEAVES_PER_ENDPOINT / most));
  return Math.min(REPAIR_DEPTH_MAX, Math.max(REPAIR_DEPTH_MIN, depth));
}

/** Repair sessions kept for ring.describe. */
const REPAIR_SESSIONS_KEPT = 8;

async function loadPeers(env: Env, dir: string): Promise<KnownPeer[]> {
  const v = await readStateFile(env, dir, PEERS_FILE);
  if (v === undefined) return [];
  const o = v as { version?: unknown; peers?: unknown };
  if (o.version !== 1 || !Array.isArray(o.peers)) {
    throw new TesseraError('CORRUPTION', `${dir}/${PEERS_FILE} is not a version-1 peers file`);
  }
  return o.peers.map((p: unknown) => {
    const e = p as Record<string, unknown>;
    const { id, tokens, datacenter, rack } = e;
    if (
      typeof id !== 'string' ||
      typeof tokens !== 'string' ||
      typeof datacenter !== 'string' ||
      typeof rack !== 'string'
    ) {
      throw new TesseraError('CORRUPTION', `${dir}/${PEERS_FILE} holds a malformed peer`);
    }
    return { id, tokens: decodeTokens(tokens), datacenter, rack };
  });
}

async function loadNodeFile(env: Env, dir: string): Promise<NodeFile | undefined> {
  const v = await readStateFile(env, dir, NODE_FILE);
  if (v === undefined) return undefined;
  const o = v as {
    version?: unknown;
    tokens?: unknown;
    generation?: unknown;
    bootstrapped?: unknown;
    decommissioned?: unknown;
  };
  if (
    o.version !== 1 ||
    typeof o.tokens !== 'string' ||
    typeof o.generation !== 'number' ||
    (o.bootstrapped !== undefined && typeof o.bootstrapped !== 'boolean') ||
    (o.decommissioned !== undefined && typeof o.decommissioned !== 'boolean')
  ) {
    throw new TesseraError('CORRUPTION', `${dir}/${NODE_FILE} is not a version-1 node file`);
  }
  return {
    tokens: decodeTokens(o.tokens),
    generation: o.generation,
    bootstrapped: o.bootstrapped !== false,
    ...(o.decommissioned === true ? { decommissioned: true } : {}),
  };
}

async function saveNodeFile(env: Env, dir: string, file: NodeFile): Promise<void> {
  await writeStateFile(env, dir, NODE_FILE, {
    version: 1,
    tokens: encodeTokens(file.tokens),
    generation: file.generation,
    bootstrapped: file.bootstrapped,
    ...(file.decommissioned === true ? { decommissioned: true } : {}),
  });
}

export class RingNode implements ReplicaTransport, RangeTransport {
  readonly membership: Membership;
  readonly coordinator: Coordinator;
  private readonly peers: PeerPool;
  private timer: Timer | undefined;
  /** Peers whose schema is being pulled, so one mismatch is one pull at a time. */
  private readonly pulling = new Set<string>();
  private closed = false;
  /** The ring signature last written to peers.json, and whether a write is under way. */
  private peersSaved = '';
  private peersSaving = false;
  /** Targets whose hints are being replayed. */
  private readonly replaying = new Set<string>();
  private readonly limiter: RateLimiter;
  private repairTimer: Timer | undefined;
  private readonly repairs: RepairSessionInfo[] = [];
  private repairRunning: Promise<void> | undefined;
  private repairSeq = 0;
  /** The range movement under way (bootstrap, decommission, removenode), if any. */
  private movement: Promise<void> | undefined;
  private file: NodeFile;

  private constructor(
    readonly env: Env,
    private readonly options: RingNodeOptions,
    readonly schema: RingSchema,
    file: NodeFile,
    knownPeers: readonly KnownPeer[],
    readonly hints: HintStore,
  ) {
    this.file = file;
    this.limiter = new RateLimiter(
      env,
      options.streamRateBytesPerSec ?? STREAM_RATE_BYTES_PER_SEC_DEFAULT,
    );
    this.peers = new PeerPool(env);
    this.membership = new Membership({
      local: {
        id: options.address,
        name: options.name,
        datacenter: options.datacenter ?? DATACENTER_DEFAULT,
        rack: options.rack ?? RACK_DEFAULT,
        tokens: file.tokens,
        generation: file.generation,
      },
      seeds: options.seeds,
      knownPeers,
      status: file.bootstrapped ? 'normal' : 'joining',
      transitionMicros: (options.ringDelayMs ?? RING_DELAY_MS_DEFAULT) * 1000,
      random: env.random.fork(),
      ...(options.phiThreshold === undefined ? {} : { phi: { threshold: options.phiThreshold } }),
    });
    this.membership.setSchema(schema.digest);
    this.coordinator = new Coordinator(env, this.membership, this, {
      ...(options.hintWindowMs === undefined ? {} : { hintWindowMs: options.hintWindowMs }),
      ...options.coordinator,
    });
  }

  /** Loads (or, the first time, creates) the node's state and starts gossiping. */
  static async start(env: Env, options: RingNodeOptions): Promise<RingNode> {
    const vnodes = options.vnodes ?? VNODES_DEFAULT;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > VNODES_MAX) {
      throw invalidArgument(`vnodes must be an integer in [1, ${VNODES_MAX}]`);
    }
    await env.fs.mkdir(options.dir, { recursive: true });
    // The directory entry must be durable too, or a crash after the first start loses the
    // tokens with it and the node comes back owning other ranges.
    const cut = options.dir.replace(/\/+$/, '').lastIndexOf('/');
    await env.fs.syncDir(cut <= 0 ? '/' : options.dir.slice(0, cut));
    const depth = options.merkleDepth;
    if (
      depth !== undefined &&
      (!Number.isInteger(depth) || depth < 1 || depth > MERKLE_DEPTH_MAX)
    ) {
      throw invalidArgument(`merkleDepth must be an integer in [1, ${MERKLE_DEPTH_MAX}]`);
    }
    const stored = await loadNodeFile(env, options.dir);
    if (stored?.decommissioned === true) {
      throw new TesseraError(
        'RING_STATE',
        `this node was decommissioned; to join a ring again, start it on an empty data directory`,
      );
    }
    const seconds = Math.floor(env.clock.nowMicros() / 1_000_000);
    // A new node asked to bootstrap takes its tokens later (see the header).
    const join = stored === undefined && options.bootstrap === true;
    const file: NodeFile = {
      tokens: stored?.tokens ?? (join ? [] : randomTokens(env.random, vnodes)),
      generation: Math.max(seconds, (stored?.generation ?? 0) + 1),
      bootstrapped: stored?.bootstrapped ?? !join,
    };
    await saveNodeFile(env, options.dir, file);
    const schema = await RingSchema.open(env, options.dir, options.database);
    const peers = await loadPeers(env, options.dir);
    const hints = await HintStore.open(env, `${options.dir.replace(/\/+$/, '')}/hints`, {
      ...(options.hintsMaxBytesPerTarget === undefined
        ? {}
        : { maxBytesPerTarget: options.hintsMaxBytesPerTarget }),
    });
    const node = new RingNode(env, options, schema, file, peers, hints);
    node.peersSaved = node.membership.ringSignatureNow;
    const interval = options.gossipIntervalMs ?? GOSSIP_INTERVAL_MS;
    node.timer = env.timers.every(interval, () => node.round());
    if (options.repairIntervalMs !== undefined && options.repairIntervalMs > 0) {
      node.repairTimer = env.timers.every(options.repairIntervalMs, () => {
        node.startRepair(undefined, 'primary');
      });
    }
    node.round();
    if (!file.bootstrapped) {
      node.movement = node
        .bootstrap(vnodes)
        .catch((err: unknown) => {
          // Streaming failures are retried inside; this is a failure to persist the tokens.
          node.membership.setProgress(`bootstrap failed: ${toTesseraError(err).message}`);
        })
        .finally(() => {
          node.movement = undefined;
        });
    }
    return node;
  }

  get id(): string {
    return this.membership.self;
  }

  /** A yield to other work, for long scans (range-data.ts's Pause). */
  private readonly pause = async (bytes: number): Promise<void> => {
    if (bytes > 0) await this.limiter.acquire(bytes);
    await new Promise<void>((resolve) => {
      this.env.timers.defer(resolve);
    });
  };

  /**
   * A call of repair or streaming, tried up to STREAM_CALL_ATTEMPTS times a second apart when
   * the connection fails: a connection opened during a partition can take a retransmission to
   * come back after it heals, and one failed page should not fail a whole repair. The calls
   * are idempotent (trees read, pages read, rows merge by timestamp).
   */
  private async streamCall(endpoint: string, method: string, body: unknown): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.peers.call(endpoint, method, body, STREAM_CALL_TIMEOUT_MS);
      } catch (err) {
        const code = toTesseraError(err).code;
        const transient = [
          'CONNECTION_REFUSED',
          'CONNECTION_CLOSED',
          'DEADLINE_EXCEEDED',
          'OVERLOADED',
        ].includes(code);
        if (!transient || attempt >= STREAM_CALL_ATTEMPTS || this.closed) throw err;
        this.peers.forgive(endpoint);
        await this.env.timers.sleep(1000);
      }
    }
  }

  // --- Gossip --------------------------------------------------------------------------------

  private round(): void {
    if (this.closed) return;
    let load = 0;
    for (const s of this.options.database.storeSamples()) {
      load += s.gauges.tableBytes + s.gauges.memtableBytes;
    }
    this.membership.setLoad(load);
    this.membership.setSchema(this.schema.digest);
    this.send(this.membership.tick(this.env.clock.monoMicros()));
    this.checkSchemas();
    this.savePeers();
    this.replayHints();
  }

  // --- Hints -----------------------------------------------------------------------------------

  /** Replays the hints of every target that is alive now, one replay per target at a time. */
  private replayHints(): void {
    const now = this.env.clock.monoMicros();
    const windowMicros =
      this.options.hintWindowMs === undefined
        ? HINT_WINDOW_MICROS_DEFAULT
        : this.options.hintWindowMs * 1000;
    for (const target of this.hints.targets()) {
      if (this.replaying.has(target) || !this.membership.isAlive(target, now)) continue;
      this.replaying.add(target);
      this.hints
        .replay(target, this.env.clock.nowMicros(), windowMicros, (table, m) =>
          this.write(target, table, m, this.writeTimeoutMs).catch((err: unknown) => {
            // A hint for a table dropped since is delivered by being dropped. A target that
            // does not know a table we know is behind on schemas: try again later.
            if (!isTesseraError(err, 'NOT_FOUND') || this.schema.schemaOf(table) !== undefined) {
              throw err;
            }
          }),
        )
        .catch(() => undefined) // kept on disk; the next round tries again
        .finally(() => this.replaying.delete(target));
    }
  }

  private get writeTimeoutMs(): number {
    return this.options.coordinator?.writeTimeoutMs ?? 2000;
  }

  async hint(target: string, table: string, mutation: Mutation): Promise<boolean> {
    return this.hints.add(target, table, mutation, this.env.clock.nowMicros());
  }

  async handOff(
    holder: string,
    target: string,
    table: string,
    mutation: Mutation,
    timeoutMs: number,
  ): Promise<void> {
    if (holder === this.id) {
      if (!(await this.hint(target, table, mutation))) {
        throw new TesseraError('OVERLOADED', `${this.id} holds too many hints for ${target}`);
      }
      return;
    }
    const wire = { row: mutation.row, ops: mutation.ops };
    await this.peers.call(holder, 'ring.hint', { target, table, mutation: wire }, timeoutMs);
  }

  /** Holds a hint for a down replica on a coordinator's behalf (sloppy quorum). */
  private async onHint(req: unknown): Promise<Record<string, never>> {
    const o = requestChecks.obj(req, 'request');
    const target = o['target'];
    if (typeof target !== 'string' || target.length === 0 || target.length > 100) {
      throw invalidArgument('target must be an endpoint id');
    }
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const m = requestChecks.mutation(o['mutation'], 'mutation', tablet.limits);
    for (const op of m.ops) {
      if (op.timestamp === undefined)
        throw invalidArgument('a hinted mutation must carry timestamps');
    }
    if (!(await this.hint(target, tablet.schema.name, m))) {
      throw new TesseraError('OVERLOADED', `${this.id} holds too many hints for ${target}`);
    }
    return {};
  }

  /** Persists the ring's other endpoints when they changed (see membership.ts). */
  private savePeers(): void {
    const signature = this.membership.ringSignatureNow;
    if (this.peersSaving || signature === this.peersSaved) return;
    this.peersSaving = true;
    const peers = this.membership.ringPeers().map((p) => ({
      id: p.id,
      tokens: encodeTokens(p.tokens),
      datacenter: p.datacenter,
      rack: p.rack,
    }));
    writeStateFile(this.env, this.options.dir, PEERS_FILE, { version: 1, peers })
      .then(() => {
        this.peersSaved = signature;
      })
      .catch(() => undefined) // tried again next round
      .finally(() => {
        this.peersSaving = false;
      });
  }

  private send(outgoing: readonly Outgoing[]): void {
    for (const o of outgoing) {
      this.peers
        .call(o.to, 'ring.gossip', { from: this.id, message: o.message }, GOSSIP_CALL_TIMEOUT_MS)
        .catch(() => undefined); // lost gossip is normal; the next round makes up for it
    }
  }

  private onGossip(req: unknown): Record<string, never> {
    const o = requestChecks.obj(req, 'request');
    const from = o['from'];
    if (typeof from !== 'string') throw invalidArgument('from must be a string');
    this.peers.forgive(from);
    const reply = this.membership.receive(
      from,
      o['message'] as GossipMessage,
      this.env.clock.monoMicros(),
    );
    this.send(reply);
    return {};
  }

  /** Pulls the schemas of live peers whose digest differs from ours. */
  private checkSchemas(): void {
    const now = this.env.clock.monoMicros();
    const ours = this.schema.digest;
    // Every second: read the digests only (endpoints() would parse every peer's tokens).
    for (const id of this.membership.livePeers(now)) {
      const theirs = this.membership.schemaDigestOf(id);
      if (theirs === '' || theirs === ours || this.pulling.has(id)) continue;
      this.pulling.add(id);
      this.exchangeSchema(id, [])
        .catch(() => undefined)
        .finally(() => this.pulling.delete(id));
    }
  }

  /** Sends `entries` to a peer and merges what it answers. */
  private async exchangeSchema(peer: string, entries: readonly SchemaEntry[]): Promise<void> {
    const reply = (await this.peers.call(
      peer,
      'ring.schema',
      { entries },
      SCHEMA_CALL_TIMEOUT_MS,
    )) as { entries?: unknown };
    await this.schema.merge(checkSchemaEntries(reply.entries));
    this.membership.setSchema(this.schema.digest);
  }

  private async onSchema(req: unknown): Promise<{ entries: SchemaEntry[] }> {
    const o = req === undefined || req === null ? {} : requestChecks.obj(req, 'request');
    const given = o['entries'];
    if (given !== undefined) {
      await this.schema.merge(checkSchemaEntries(given));
      this.membership.setSchema(this.schema.digest);
    }
    return { entries: this.schema.list() };
  }

  /**
   * Tells every live peer about a schema change before the client hears it succeeded, so the
   * replicas know the table when the first write arrives (Cassandra waits for schema agreement
   * the same way). Peers that do not answer learn it by gossip.
   */
  async pushSchema(): Promise<void> {
    const now = this.env.clock.monoMicros();
    const entries = this.schema.list();
    this.membership.setSchema(this.schema.digest);
    const peers = this.membership.livePeers(now);
    await Promise.all(peers.map((p) => this.exchangeSchema(p, entries).catch(() => undefined)));
  }

  // --- Replica side ----------------------------------------------------------------------------

  /** This node's replica of a hashed table (its one tablet); NOT_FOUND for an unknown table. */
  replicaTablet(table: string): Tablet {
    return this.hashedTablet(table);
  }

  /** The tablet of a live hashed table on this node; NOT_FOUND otherwise. */
  private hashedTablet(table: string) {
    const schema = this.schema.schemaOf(table);
    if (schema === undefined) {
      throw new TesseraError('NOT_FOUND', `hashed table '${table}' is unknown on ${this.id}`, {
        table,
      });
    }
    return this.options.database.tablet(table);
  }

  async write(
    endpoint: string,
    table: string,
    mutation: Mutation,
    timeoutMs: number,
  ): Promise<void> {
    if (endpoint === this.id) {
      await this.hashedTablet(table).mutate(mutation);
      return;
    }
    const wire = { row: mutation.row, ops: mutation.ops };
    await this.peers.call(endpoint, 'ring.write', { table, mutation: wire }, timeoutMs);
  }

  async read(
    endpoint: string,
    table: string,
    row: Uint8Array,
    timeoutMs: number,
  ): Promise<RawEntry[]> {
    if (endpoint === this.id) return this.hashedTablet(table).rawRow(row);
    const reply = (await this.peers.call(endpoint, 'ring.read', { table, row }, timeoutMs)) as {
      entries?: unknown;
    };
    return entriesFromWire(reply.entries);
  }

  private async onWrite(req: unknown): Promise<Record<string, never>> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const m = requestChecks.mutation(o['mutation'], 'mutation', tablet.limits);
    for (const op of m.ops) {
      if (op.timestamp === undefined) {
        throw invalidArgument('a replicated mutation must carry a timestamp on every op');
      }
    }
    await tablet.mutate(m);
    return {};
  }

  async readCells(
    endpoint: string,
    table: string,
    row: Uint8Array,
    spec: GetSpec,
    timeoutMs: number,
  ): Promise<WireCells> {
    if (endpoint === this.id) {
      // Views of stored bytes, not copies (copying was 13% of a one-node ring's CPU under
      // YCSB C): the answer is encoded into the reply as soon as the other replicas' have
      // come, milliseconds at most, so no large buffer is pinned for long.
      return wireCells(await this.hashedTablet(table).get(row, spec, { valueViews: true }));
    }
    const reply = (await this.peers.call(
      endpoint,
      'ring.read',
      { table, row, spec, resolved: true },
      timeoutMs,
    )) as { cells?: unknown };
    return checkWireCells(reply.cells);
  }

  async readDigest(
    endpoint: string,
    table: string,
    row: Uint8Array,
    spec: GetSpec,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    if (endpoint === this.id) {
      return cellsDigest(
        wireCells(await this.hashedTablet(table).get(row, spec, { valueViews: true })),
      );
    }
    const reply = (await this.peers.call(
      endpoint,
      'ring.read',
      { table, row, spec, digest: true },
      timeoutMs,
    )) as { digest?: unknown };
    if (!(reply.digest instanceof Uint8Array) || reply.digest.length !== 16) {
      throw new TesseraError('PROTOCOL_ERROR', `ring.read answered a malformed digest`);
    }
    return reply.digest;
  }

  /**
   * The row's raw entries; with `resolved` the replica's own answer to `spec`; with `digest`
   * the digest of that answer (a digest read).
   */
  private async onRead(
    req: unknown,
  ): Promise<{ entries: (Uint8Array | number)[] } | { cells: WireCells } | { digest: Uint8Array }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const row = requestChecks.bytes(o, 'row', 'row');
    if (o['resolved'] === true || o['digest'] === true) {
      const spec = requestChecks.getSpec(o['spec'], 'spec');
      // Encoded at once by the RPC server, so values may be views of stored bytes.
      const cells = wireCells(await tablet.get(row, spec, { valueViews: true }));
      return o['digest'] === true ? { digest: cellsDigest(cells) } : { cells };
    }
    return { entries: entriesToWire(await tablet.rawRow(row)) };
  }

  // --- Ranges: trees, rows and streaming -------------------------------------------------------

  async leaves(
    endpoint: string,
    table: string,
    request: {
      readonly intervals: readonly (Interval & { readonly group: number })[];
      readonly groups: number;
      readonly depth: number;
      readonly nowMicros: number;
    },
  ): Promise<{ leaves: Uint8Array[]; rows: number; bytes: number }> {
    if (endpoint === this.id) {
      const tablet = this.hashedTablet(table);
      return buildLeaves(
        tablet,
        tablet.schema,
        tokenIntervals(request.intervals),
        request.groups,
        request.depth,
        request.nowMicros,
        this.pause,
      );
    }
    const reply = (await this.streamCall(endpoint, 'ring.leaves', {
      table,
      intervals: intervalsToWire(request.intervals),
      groupOf: request.intervals.map((iv) => iv.group),
      groups: request.groups,
      depth: request.depth,
      now: request.nowMicros,
    })) as { leaves?: unknown; rows?: unknown; bytes?: unknown };
    const leaves = reply.leaves;
    const size = 16 << request.depth;
    if (
      !Array.isArray(leaves) ||
      leaves.length !== request.groups ||
      !leaves.every((l) => l instanceof Uint8Array && l.length === size) ||
      typeof reply.rows !== 'number' ||
      typeof reply.bytes !== 'number'
    ) {
      throw new TesseraError('PROTOCOL_ERROR', 'ring.leaves answered malformed leaves');
    }
    return { leaves: leaves as Uint8Array[], rows: reply.rows, bytes: reply.bytes };
  }

  private async onLeaves(
    req: unknown,
  ): Promise<{ leaves: Uint8Array[]; rows: number; bytes: number }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const intervals = intervalsFromWire(o['intervals'], 'intervals');
    const groupOf = o['groupOf'];
    const groups = o['groups'];
    const depth = o['depth'];
    const now = o['now'];
    if (
      typeof depth !== 'number' ||
      !Number.isInteger(depth) ||
      depth < 1 ||
      depth > MERKLE_DEPTH_MAX
    ) {
      throw invalidArgument(`depth must be an integer in [1, ${MERKLE_DEPTH_MAX}]`);
    }
    if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1) {
      throw invalidArgument('groups must be a positive integer');
    }
    // Every group's leaves are answered in one reply, which must fit a frame.
    if (groups * (16 << depth) > LEAVES_REPLY_BYTES_MAX) {
      throw invalidArgument(`groups x leaves exceed ${LEAVES_REPLY_BYTES_MAX} bytes`);
    }
    if (
      !Array.isArray(groupOf) ||
      groupOf.length !== intervals.length ||
      !groupOf.every((g) => Number.isInteger(g) && g >= 0 && g < groups)
    ) {
      throw invalidArgument('groupOf must give each interval a group in [0, groups)');
    }
    if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
      throw invalidArgument('now must be wall-clock microseconds');
    }
    const list = intervals.map((iv, i) => ({ ...iv, group: groupOf[i] as number }));
    return buildLeaves(tablet, tablet.schema, tokenIntervals(list), groups, depth, now, this.pause);
  }

  async rows(
    endpoint: string,
    table: string,
    intervals: readonly Interval[],
    after: Uint8Array | undefined,
    maxBytes: number,
  ): Promise<RowsPage> {
    if (endpoint === this.id) {
      return readRowsPage(
        this.hashedTablet(table),
        tokenIntervals(intervals),
        after,
        maxBytes,
        this.pause,
      );
    }
    const reply = (await this.streamCall(endpoint, 'ring.rows', {
      table,
      intervals: intervalsToWire(intervals),
      ...(after === undefined ? {} : { after }),
      maxBytes,
    })) as { rows?: unknown; next?: unknown; bytes?: unknown };
    const next = reply.next;
    if ((next !== undefined && !(next instanceof Uint8Array)) || typeof reply.bytes !== 'number') {
      throw new TesseraError('PROTOCOL_ERROR', 'ring.rows answered a malformed page');
    }
    return { rows: rowsFromWire(reply.rows, 'ring.rows', false), next, bytes: reply.bytes };
  }

  private async onRows(
    req: unknown,
  ): Promise<{ rows: unknown[]; next?: Uint8Array; bytes: number }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const intervals = tokenIntervals(intervalsFromWire(o['intervals'], 'intervals'));
    const after = o['after'] === undefined ? undefined : requestChecks.bytes(o, 'after', 'after');
    const maxBytes = o['maxBytes'];
    if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1) {
      throw invalidArgument('maxBytes must be a positive integer');
    }
    // Replies must fit a frame: pages are cut well below the RPC limit.
    const page = await readRowsPage(
      tablet,
      intervals,
      after,
      Math.min(maxBytes, 4 << 20),
      this.pause,
    );
    return {
      rows: rowsToWire(page.rows),
      ...(page.next === undefined ? {} : { next: page.next }),
      bytes: page.bytes,
    };
  }

  async apply(endpoint: string, table: string, rows: readonly RawRow[]): Promise<void> {
    if (endpoint === this.id) {
      await applyRows(this.hashedTablet(table), rows);
      return;
    }
    await this.streamCall(endpoint, 'ring.apply', { table, rows: rowsToWire(rows) });
  }

  async digests(
    endpoint: string,
    table: string,
    intervals: readonly Interval[],
    after: Uint8Array | undefined,
    maxRows: number,
    nowMicros: number,
  ): Promise<DigestsPage> {
    if (endpoint === this.id) {
      const tablet = this.hashedTablet(table);
      const iv = tokenIntervals(intervals);
      return readDigestsPage(tablet, iv, after, maxRows, nowMicros, this.pause);
    }
    const reply = (await this.streamCall(endpoint, 'ring.digests', {
      table,
      intervals: intervalsToWire(intervals),
      ...(after === undefined ? {} : { after }),
      maxRows,
      now: nowMicros,
    })) as { rows?: unknown; next?: unknown };
    const { rows, next } = reply;
    if (
      !Array.isArray(rows) ||
      rows.length % 2 !== 0 ||
      (next !== undefined && !(next instanceof Uint8Array))
    ) {
      throw new TesseraError('PROTOCOL_ERROR', 'ring.digests answered a malformed page');
    }
    const out: { row: Uint8Array; digest: Uint8Array }[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      const row = rows[i] as unknown;
      const digest = rows[i + 1] as unknown;
      if (!(row instanceof Uint8Array) || !(digest instanceof Uint8Array) || digest.length !== 16) {
        throw new TesseraError('PROTOCOL_ERROR', 'ring.digests answered a malformed row');
      }
      out.push({ row, digest });
    }
    return { rows: out, next };
  }

  private async onDigests(req: unknown): Promise<{ rows: Uint8Array[]; next?: Uint8Array }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const intervals = tokenIntervals(intervalsFromWire(o['intervals'], 'intervals'));
    const after = o['after'] === undefined ? undefined : requestChecks.bytes(o, 'after', 'after');
    const maxRows = o['maxRows'];
    const now = o['now'];
    if (typeof maxRows !== 'number' || !Number.isInteger(maxRows) || maxRows < 1) {
      throw invalidArgument('maxRows must be a positive integer');
    }
    if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
      throw invalidArgument('now must be wall-clock microseconds');
    }
    // Replies must fit a frame: at most 20,000 rows (keys are at most a few KiB each).
    const page = await readDigestsPage(
      tablet,
      intervals,
      after,
      Math.min(maxRows, DIGESTS_PAGE_ROWS_MAX),
      now,
      this.pause,
    );
    const rows: Uint8Array[] = [];
    for (const r of page.rows) rows.push(r.row, r.digest);
    return { rows, ...(page.next === undefined ? {} : { next: page.next }) };
  }

  async fetch(endpoint: string, table: string, keys: readonly Uint8Array[]): Promise<RawRow[]> {
    if (endpoint === this.id) return readRowsByKey(this.hashedTablet(table), keys);
    const reply = (await this.streamCall(endpoint, 'ring.fetch', { table, rows: keys })) as {
      rows?: unknown;
    };
    return rowsFromWire(reply.rows, 'ring.fetch', false);
  }

  private async onFetch(req: unknown): Promise<{ rows: unknown[] }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const keys = o['rows'];
    if (
      !Array.isArray(keys) ||
      keys.length > FETCH_ROWS_MAX ||
      !keys.every((k) => k instanceof Uint8Array && k.length > 0)
    ) {
      throw invalidArgument(`rows must be at most ${FETCH_ROWS_MAX} non-empty row keys`);
    }
    return { rows: rowsToWire(await readRowsByKey(tablet, keys as Uint8Array[])) };
  }

  private async onApply(req: unknown): Promise<Record<string, never>> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const rows = rowsFromWire(o['rows'], 'rows', true);
    for (const r of rows) {
      if (r.row.length === 0) throw invalidArgument('a streamed row key must not be empty');
    }
    await applyRows(tablet, rows);
    return {};
  }

  // --- Repair ----------------------------------------------------------------------------------

  /** The hashed tables this node knows, by name. */
  private hashedTables(): TableSchema[] {
    const out: TableSchema[] = [];
    for (const e of this.schema.list()) {
      const s = this.schema.schemaOf(e.name);
      if (s !== undefined && s.placement.kind === 'hashed') out.push(s);
    }
    return out;
  }

  /**
   * Starts a repair session of `table` (every hashed table when undefined) unless one runs;
   * returns its id. Scope `all`: every range of the ring (what `tessera repair` asks, so one
   * command leaves every replica in agreement); `local`: the ranges this node replicates;
   * `primary`: those it is first replica of (the periodic repair: each range once per round
   * over the ring).
   */
  startRepair(table: string | undefined, scope: 'all' | 'local' | 'primary'): string {
    if (table !== undefined && this.schema.schemaOf(table) === undefined) {
      throw new TesseraError('NOT_FOUND', `hashed table '${table}' is unknown on ${this.id}`, {
        table,
      });
    }
    const running = this.repairs.find((r) => r.state === 'running');
    if (running !== undefined) return running.id;
    const info: RepairSessionInfo = {
      id: `${this.id}#${++this.repairSeq}`,
      table: table ?? '*',
      scope,
      state: 'running',
      startedMicros: this.env.clock.nowMicros(),
      finishedMicros: 0,
      stats: emptyRepairStats(),
    };
    this.repairs.push(info);
    if (this.repairs.length > REPAIR_SESSIONS_KEPT) this.repairs.shift();
    this.repairRunning = this.runRepair(info, table, scope)
      .then(
        () => {
          info.state = info.stats.groupsIncomplete > 0 ? 'incomplete' : 'done';
        },
        (err: unknown) => {
          info.state = 'failed';
          info.stats.errors.push(toTesseraError(err).message);
        },
      )
      .finally(() => {
        info.finishedMicros = this.env.clock.nowMicros();
        this.membership.setProgress('');
        this.repairRunning = undefined;
      });
    return info.id;
  }

  private async runRepair(
    info: RepairSessionInfo,
    table: string | undefined,
    scope: 'all' | 'local' | 'primary',
  ): Promise<void> {
    const tables = this.hashedTables().filter((t) => table === undefined || t.name === table);
    const nowMicros = this.env.clock.nowMicros();
    const stats: RepairStats = info.stats;
    for (const [i, schema] of tables.entries()) {
      const ranges = replicaRanges(this.membership.ring, strategyOf(schema)).filter(
        (r) =>
          scope === 'all' ||
          (scope === 'local' ? r.replicas.includes(this.id) : r.replicas[0] === this.id),
      );
      const groups: RepairGroup[] = [...groupByReplicas(ranges).values()];
      const depth = this.options.merkleDepth ?? repairDepth(groups);
      const progress = () =>
        this.membership.setProgress(
          `repair ${schema.name} (${i + 1}/${tables.length}): ${stats.groupsDone}/${stats.groups} ` +
            `replica sets, ${(stats.bytesStreamed / 1048576).toFixed(1)} MB streamed`,
        );
      progress();
      await repairTable(
        this,
        schema.name,
        groups,
        {
          depth,
          nowMicros,
          isAlive: (id) => this.membership.isAlive(id, this.env.clock.monoMicros()),
          limiter: this.limiter,
          onProgress: progress,
        },
        stats,
      );
    }
  }

  private onRepair(req: unknown): { id: string } {
    const o = req === undefined || req === null ? {} : requestChecks.obj(req, 'request');
    const table = o['table'];
    if (table !== undefined && typeof table !== 'string')
      throw invalidArgument('table must be a string');
    const scope = o['scope'] ?? 'all';
    if (scope !== 'all' && scope !== 'local' && scope !== 'primary') {
      throw invalidArgument("scope must be 'all', 'local' or 'primary'");
    }
    return { id: this.startRepair(table, scope) };
  }

  /** Resolves when the running repair session (if any) is over. */
  async repairDone(): Promise<void> {
    await this.repairRunning;
  }

  // --- Range movements -------------------------------------------------------------------------

  private movementHost(): MovementHost {
    return {
      env: this.env,
      transport: this,
      tables: () => this.hashedTables(),
      isAlive: (id) => this.membership.isAlive(id, this.env.clock.monoMicros()),
      limiter: this.limiter,
      progress: (text) => this.membership.setProgress(text),
    };
  }

  private get ringDelayMs(): number {
    return this.options.ringDelayMs ?? RING_DELAY_MS_DEFAULT;
  }

  /** Whether this node knows the ring and agrees with every live peer on the schemas. */
  private knowsRing(): boolean {
    if (!this.membership.ready || this.membership.ring.size === 0) return false;
    const now = this.env.clock.monoMicros();
    const peers = this.membership.livePeers(now);
    return (
      peers.length > 0 &&
      peers.every((p) => this.membership.schemaDigestOf(p) === this.schema.digest)
    );
  }

  /** Joins the ring: tokens, then streaming, then normal (see the header). */
  private async bootstrap(vnodes: number): Promise<void> {
    const host = this.movementHost();
    const interval = this.options.gossipIntervalMs ?? GOSSIP_INTERVAL_MS;
    host.progress('bootstrap: learning the ring');
    while (!this.closed && !this.knowsRing()) await this.env.timers.sleep(interval);
    if (this.closed) return;
    if (this.file.tokens.length === 0) {
      const rf = Math.max(
        3,
        ...this.hashedTables().map((t) =>
          t.placement.kind === 'hashed' ? t.placement.replicationFactor : 1,
        ),
      );
      const tokens = allocateTokens(this.membership.ring, vnodes, {
        replicationFactor: Math.min(rf, 15),
      });
      this.file = { ...this.file, tokens };
      await saveNodeFile(this.env, this.options.dir, this.file);
    }
    this.membership.setTokens(this.file.tokens, 'joining');
    for (;;) {
      host.progress('bootstrap: waiting for the ring to learn the new tokens');
      await this.env.timers.sleep(this.ringDelayMs);
      if (this.closed) return;
      try {
        const stats = await moveRanges(
          host,
          'bootstrap',
          this.membership.ring,
          this.membership.pendingRing,
          bootstrapPlan(host, this.id),
        );
        this.lastMovement = { kind: 'bootstrap', ...stats };
        break;
      } catch (err) {
        host.progress(`bootstrap: streaming failed (${toTesseraError(err).message}); retrying`);
      }
    }
    this.file = { ...this.file, bootstrapped: true };
    await saveNodeFile(this.env, this.options.dir, this.file);
    this.membership.setTokens(this.file.tokens, 'normal');
    host.progress('');
  }

  /** What the last range movement of this node streamed, for describe and the growth test. */
  lastMovement: { kind: string; streams: number; rows: number; bytes: number } | undefined;

  /** Resolves when the range movement under way (if any) is over. */
  async movementDone(): Promise<void> {
    await this.movement;
  }

  /** Hands this node's ranges to their new replicas and leaves the ring; runs in the background. */
  decommission(): void {
    const status = this.membership.status;
    if (status !== 'normal' || this.movement !== undefined) {
      throw new TesseraError(
        'RING_STATE',
        `${this.id} is ${status}${this.movement ? ' and moving ranges' : ''}: only a normal node can be decommissioned`,
      );
    }
    const host = this.movementHost();
    this.membership.setStatus('leaving');
    this.movement = (async () => {
      try {
        host.progress('decommission: waiting for the ring to learn it');
        await this.env.timers.sleep(this.ringDelayMs);
        const stats = await moveRanges(
          host,
          'decommission',
          this.membership.ring,
          this.membership.pendingRing,
          decommissionPlan(this.id),
        );
        this.lastMovement = { kind: 'decommission', ...stats };
        host.progress('decommission: handing over hints');
        await this.handOverHints();
        this.file = { ...this.file, decommissioned: true };
        await saveNodeFile(this.env, this.options.dir, this.file);
        this.membership.setStatus('left');
        host.progress(`decommissioned: streamed ${stats.rows} rows`);
      } catch (err) {
        this.membership.setStatus('normal');
        host.progress(`decommission failed: ${toTesseraError(err).message}`);
      } finally {
        this.movement = undefined;
      }
    })();
  }

  /**
   * Before a decommissioned node leaves, the hints it holds go on: to their target when it is
   * up, else to another live node (as `ring.hint`, which keeps them durably). Hints still held
   * afterwards (no live node took them) are lost with the node; repair heals what they carried.
   */
  private async handOverHints(): Promise<void> {
    const windowMicros =
      this.options.hintWindowMs === undefined
        ? HINT_WINDOW_MICROS_DEFAULT
        : this.options.hintWindowMs * 1000;
    for (const target of this.hints.targets()) {
      const now = this.env.clock.monoMicros();
      const up = this.membership.isAlive(target, now);
      const holder = this.membership
        .livePeers(now)
        .find((id) => id !== target && this.membership.statusOf(id) === 'normal');
      if (!up && holder === undefined) continue;
      // Waits for any replay of the target under way, then delivers or hands over the rest.
      await this.hints
        .replay(target, this.env.clock.nowMicros(), windowMicros, (table, m) =>
          up
            ? this.write(target, table, m, this.writeTimeoutMs)
            : this.handOff(holder!, target, table, m, this.writeTimeoutMs),
        )
        .catch(() => undefined); // what was not delivered stays here, lost with the node
    }
  }

  /** Removes a dead node: rebuilds its replicas from the survivors, then marks it left. */
  removeNode(dead: string): void {
    const now = this.env.clock.monoMicros();
    const status = this.membership.statusOf(dead);
    if (dead === this.id)
      throw new TesseraError('RING_STATE', 'a node cannot remove itself; use decommission');
    if (status === undefined)
      throw new TesseraError('RING_STATE', `${dead} is not a ring endpoint ${this.id} knows`);
    if (this.membership.isAlive(dead, now)) {
      throw new TesseraError(
        'RING_STATE',
        `${dead} is alive: decommission it instead of removing it`,
      );
    }
    if (status !== 'normal' && status !== 'leaving') {
      throw new TesseraError(
        'RING_STATE',
        `${dead} is ${status}: only a normal node can be removed`,
      );
    }
    if (this.movement !== undefined) {
      throw new TesseraError('RING_STATE', `${this.id} is already moving ranges`);
    }
    const host = this.movementHost();
    this.membership.markStatus(dead, 'leaving');
    this.movement = (async () => {
      try {
        host.progress(`removenode ${dead}: waiting for the ring to learn it`);
        await this.env.timers.sleep(this.ringDelayMs);
        const stats = await moveRanges(
          host,
          `removenode ${dead}`,
          this.membership.ring,
          this.membership.pendingRing,
          removePlan(host, dead),
        );
        this.lastMovement = { kind: 'removenode', ...stats };
        this.membership.markStatus(dead, 'left');
        host.progress(`removed ${dead}: streamed ${stats.rows} rows`);
      } catch (err) {
        this.membership.markStatus(dead, 'normal');
        host.progress(`removenode ${dead} failed: ${toTesseraError(err).message}`);
      } finally {
        this.movement = undefined;
      }
    })();
  }

  private onDecommission(): Record<string, never> {
    this.decommission();
    return {};
  }

  private onRemoveNode(req: unknown): Record<string, never> {
    const o = requestChecks.obj(req, 'request');
    const id = o['id'];
    if (typeof id !== 'string' || id.length === 0)
      throw invalidArgument('id must be an endpoint id');
    this.removeNode(id);
    return {};
  }

  // --- Description -----------------------------------------------------------------------------

  describe(): RingDescription {
    const now = this.env.clock.monoMicros();
    const ring = this.membership.ring;
    const owns = ring.ownership();
    const endpoints = this.membership.endpoints(now).map((e) => ({
      id: e.id,
      name: e.name,
      datacenter: e.datacenter,
      rack: e.rack,
      status: e.status,
      alive: e.alive,
      load: e.load,
      tokens: e.tokens.map((t) => t.toString()),
      owns: owns.get(e.id) ?? 0,
      generation: e.generation,
      heartbeat: e.heartbeat,
      schema: e.schema,
      progress: e.progress,
    }));
    const tables: DescribedTable[] = [];
    for (const entry of this.schema.list()) {
      const s = this.schema.schemaOf(entry.name);
      if (s === undefined || s.placement.kind !== 'hashed') continue;
      const eff =
        ring.size === 0 ? new Map<string, number>() : effectiveOwnership(ring, strategyOf(s));
      tables.push({
        name: s.name,
        replicationFactor: s.placement.replicationFactor,
        ...(s.placement.datacenters === undefined ? {} : { datacenters: s.placement.datacenters }),
        owns: Object.fromEntries(eff),
      });
    }
    return {
      self: this.id,
      endpoints,
      tables,
      repairs: this.repairs.map((r) => ({
        ...r,
        stats: { ...r.stats, errors: [...r.stats.errors] },
      })),
      hints: this.hints.stats(),
      coordinator: { ...this.coordinator.stats },
      ...(this.lastMovement === undefined ? {} : { movement: { ...this.lastMovement } }),
    };
  }

  // --- Wiring ----------------------------------------------------------------------------------

  /** Registers the `ring.*` methods on the node's RPC server. */
  register(server: RpcServer): void {
    server.handle('ring.gossip', (req: unknown) => this.onGossip(req));
    server.handle('ring.write', (req: unknown) => this.onWrite(req));
    server.handle('ring.read', (req: unknown) => this.onRead(req));
    server.handle('ring.schema', (req: unknown) => this.onSchema(req));
    server.handle('ring.describe', () => this.describe());
    server.handle('ring.hint', (req: unknown) => this.onHint(req));
    server.handle('ring.leaves', (req: unknown) => this.onLeaves(req));
    server.handle('ring.rows', (req: unknown) => this.onRows(req));
    server.handle('ring.apply', (req: unknown) => this.onApply(req));
    server.handle('ring.digests', (req: unknown) => this.onDigests(req));
    server.handle('ring.fetch', (req: unknown) => this.onFetch(req));
    server.handle('ring.repair', (req: unknown) => this.onRepair(req));
    server.handle('ring.decommission', () => this.onDecommission());
    server.handle('ring.removenode', (req: unknown) => this.onRemoveNode(req));
  }

  /** The `table.*` caller of a ring node: hashed tables coordinated, the rest as before. */
  tables(dispatcher: TableDispatcher): TableCaller {
    return new HashedTableCaller(this.env, dispatcher, this);
  }

  /** Stops gossiping and closes peer connections. The Database stays open (the caller's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.repairTimer?.cancel();
    await this.peers.close();
    await this.hints.close();
  }
}
