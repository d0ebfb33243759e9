/**
 * A ring node: the driver that runs one node's part of the hashed-table ring on an Env.
 *
 * It owns the I/O around the pure pieces: it persists the node's tokens and generation
 * (node.json), runs a gossip round every second (membership.ts) and sends its messages over
 * RPC (peer-pool.ts), keeps the hashed-table schemas in step with the ring (schema-sync.ts),
 * serves the replica side of the `ring.*` methods (ring-protocol.ts), and gives the native
 * protocol's `table.*` handlers a coordinator for hashed tables (hashed-tables.ts).
 *
 * Start-up: the first start draws `vnodes` random tokens and keeps them for good; every start
 * takes a generation larger than the last one's (max(last + 1, wall-clock seconds)), so peers
 * see the restart and drop what they knew of the old process. A node joins in status normal:
 * it owns its ranges at once. (Streaming the ranges that move to a joining node — bootstrap —
 * is part 2 of the hashed-table work; until then a node added to a ring that holds data serves
 * its new ranges empty until repaired, which QUORUM reads paper over only while the other
 * replicas hold the rows.)
 */
import type { Env, Timer } from '../env/index.js';
import type { Mutation } from '../model/index.js';
import {
  type Database,
  requestChecks,
  type GetSpec,
  type TableDispatcher,
  type TableCaller,
  type WireCells,
  wireCells,
} from '../model/index.js';
import type { RawEntry } from '../storage/index.js';
import { invalidArgument, TesseraError } from '../util/errors.js';
import type { RpcServer } from '../wire/index.js';
import {
  Coordinator,
  type CoordinatorOptions,
  type ReplicaTransport,
  strategyOf,
} from './coordinator.js';
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
  type DescribedTable,
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
}

interface NodeFile {
  readonly tokens: bigint[];
  readonly generation: number;
}

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
  const o = v as { version?: unknown; tokens?: unknown; generation?: unknown };
  if (o.version !== 1 || typeof o.tokens !== 'string' || typeof o.generation !== 'number') {
    throw new TesseraError('CORRUPTION', `${dir}/${NODE_FILE} is not a version-1 node file`);
  }
  return { tokens: decodeTokens(o.tokens), generation: o.generation };
}

export class RingNode implements ReplicaTransport {
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

  private constructor(
    readonly env: Env,
    private readonly options: RingNodeOptions,
    readonly schema: RingSchema,
    file: NodeFile,
    knownPeers: readonly KnownPeer[],
  ) {
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
      random: env.random.fork(),
      ...(options.phiThreshold === undefined ? {} : { phi: { threshold: options.phiThreshold } }),
    });
    this.membership.setSchema(schema.digest);
    this.coordinator = new Coordinator(env, this.membership, this, options.coordinator);
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
    const stored = await loadNodeFile(env, options.dir);
    const seconds = Math.floor(env.clock.nowMicros() / 1_000_000);
    const file: NodeFile = {
      tokens: stored?.tokens ?? randomTokens(env.random, vnodes),
      generation: Math.max(seconds, (stored?.generation ?? 0) + 1),
    };
    await writeStateFile(env, options.dir, NODE_FILE, {
      version: 1,
      tokens: encodeTokens(file.tokens),
      generation: file.generation,
    });
    const schema = await RingSchema.open(env, options.dir, options.database);
    const peers = await loadPeers(env, options.dir);
    const node = new RingNode(env, options, schema, file, peers);
    node.peersSaved = node.membership.ringSignatureNow;
    const interval = options.gossipIntervalMs ?? GOSSIP_INTERVAL_MS;
    node.timer = env.timers.every(interval, () => node.round());
    node.round();
    return node;
  }

  get id(): string {
    return this.membership.self;
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

  /** The row's raw entries, or with `resolved` the replica's own answer to `spec`. */
  private async onRead(
    req: unknown,
  ): Promise<{ entries: (Uint8Array | number)[] } | { cells: WireCells }> {
    const o = requestChecks.obj(req, 'request');
    const tablet = this.hashedTablet(requestChecks.tableName(o));
    const row = requestChecks.bytes(o, 'row', 'row');
    if (o['resolved'] === true) {
      const spec = requestChecks.getSpec(o['spec'], 'spec');
      // Encoded at once by the RPC server, so values may be views of stored bytes.
      return { cells: wireCells(await tablet.get(row, spec, { valueViews: true })) };
    }
    return { entries: entriesToWire(await tablet.rawRow(row)) };
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
    return { self: this.id, endpoints, tables };
  }

  // --- Wiring ----------------------------------------------------------------------------------

  /** Registers the `ring.*` methods on the node's RPC server. */
  register(server: RpcServer): void {
    server.handle('ring.gossip', (req: unknown) => this.onGossip(req));
    server.handle('ring.write', (req: unknown) => this.onWrite(req));
    server.handle('ring.read', (req: unknown) => this.onRead(req));
    server.handle('ring.schema', (req: unknown) => this.onSchema(req));
    server.handle('ring.describe', () => this.describe());
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
    await this.peers.close();
  }
}
