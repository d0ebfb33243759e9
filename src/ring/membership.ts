/**
 * Membership: what one ring node believes about the ring — who is in it, with which tokens,
 * datacenter and rack, in which status, and who is up — built from gossip (gossip.ts) and one
 * phi-accrual failure detector per peer (phi-accrual.ts). Pure: time comes in as arguments,
 * messages go out as data; the driver (ring-node.ts) does the I/O.
 *
 * Endpoints are identified by their RPC address (`host:port`), as Cassandra identifies
 * endpoints by IP: seeds are then just ids, and a message's sender is where to answer.
 *
 * Application states each node gossips about itself (endpoint-state.ts encodes them): name,
 * datacenter, rack, tokens, status (joining, normal, leaving, left), load (bytes stored) and
 * schema (the digest of its hashed tables, schema-sync.ts). The ring (TokenRing) holds the
 * endpoints in status normal or leaving — a leaving node still owns its ranges until it has
 * left; a joining one owns nothing yet — and is rebuilt only when one of those changes. The
 * pending ring is the ring as it will be once the range movements under way are done: joining
 * endpoints in, leaving ones out. Coordinators send writes to the replicas of both, so a
 * node receiving ranges misses no write made while it streams (Cassandra's pending ranges).
 *
 * A node that restarts must not place rows on a ring of itself alone while gossip brings the
 * others back: it would acknowledge writes on nodes that are not the rows' replicas. So the
 * ring's endpoints are persisted (ring-node.ts's peers.json, Cassandra's system.peers) and
 * given back at start as `knownPeers`: they are in the ring at once, down until heard, and
 * gossip's state replaces theirs as it arrives. A node with no known peers and seeds other than
 * itself is not `ready` until it has heard from another node; before that its coordinator
 * answers Unavailable.
 *
 * Liveness: a peer is up while the phi of its heartbeat inter-arrival times is below the
 * threshold (8). Heartbeats reach a node second-hand through gossip, so arrivals are irregular
 * (one to a few rounds apart); a pause of `acceptablePauseMicros` (3 s) is tolerated on top of
 * the mean, as Akka does. Without it a single heartbeat 0.5 s late would mark a node down
 * (phi-accrual.ts's table). A coordinator skips replicas that are down until they are heard.
 */
import type { Random } from '../env/index.js';
import {
  decodeTokens,
  encodeTokens,
  type EndpointInfo,
  type EndpointStatus,
  STATE_DATACENTER,
  STATE_LOAD,
  STATE_NAME,
  STATE_PROGRESS,
  STATE_RACK,
  STATE_SCHEMA,
  STATE_STATUS,
  STATE_TOKENS,
  isEndpointStatus,
} from './endpoint-state.js';
import { Gossiper, type GossipMessage, type GossipStep, type Outgoing } from './gossip.js';
import { PhiAccrualDetector, type PhiAccrualOptions } from './phi-accrual.js';
import { TokenRing, type EndpointPlacement } from './token-ring.js';

/** The pause tolerated beyond the mean heartbeat interval before phi rises (see header). */
export const ACCEPTABLE_PAUSE_MICROS_DEFAULT = 3_000_000;

export interface LocalEndpoint {
  /** The RPC address, `host:port`: the endpoint's id. */
  readonly id: string;
  readonly name: string;
  readonly datacenter: string;
  readonly rack: string;
  readonly tokens: readonly bigint[];
  /** Restarts must pass a larger generation than any earlier run (ring-node.ts persists it). */
  readonly generation: number;
}

/** A ring endpoint as persisted between runs. */
export interface KnownPeer {
  readonly id: string;
  readonly tokens: readonly bigint[];
  readonly datacenter: string;
  readonly rack: string;
}

export interface MembershipOptions {
  readonly local: LocalEndpoint;
  /** The ring's other endpoints as this node last knew them (see header). */
  readonly knownPeers?: readonly KnownPeer[];
  /** Seed ids (addresses). The node itself may be among them. */
  readonly seeds: readonly string[];
  readonly random: Random;
  readonly status?: EndpointStatus;
  readonly phi?: PhiAccrualOptions;
  /** How long after a ring change writes also honour the ring before it (previousRing). */
  readonly transitionMicros?: number;
}

export class Membership {
  readonly self: string;
  private readonly gossiper: Gossiper;
  private readonly detectors = new Map<string, PhiAccrualDetector>();
  private readonly phiOptions: PhiAccrualOptions;
  private ringNow: TokenRing;
  /** The ring once joining and leaving endpoints are done; ringNow itself when none are. */
  private pendingNow: TokenRing;
  /** The ring before the last change, and until when (µs) writes still honour it. */
  private previous: TokenRing | undefined;
  private previousUntil = 0;
  /** The latest time this membership was told (ticks and messages), for rebuildRing. */
  private lastNowMicros = 0;
  /** Each gossiped endpoint's status at the last ring build, to tell movements apart. */
  private statuses = new Map<string, string>();
  /** The ring-relevant state of each endpoint the ring was built from. */
  private ringSignature = '';
  private readonly knownPeers: ReadonlyMap<string, KnownPeer>;
  private heardFromPeer = false;
  private localTokens: readonly bigint[];

  constructor(private readonly options: MembershipOptions) {
    const local = options.local;
    this.self = local.id;
    this.localTokens = local.tokens;
    this.knownPeers = new Map(
      (options.knownPeers ?? []).filter((p) => p.id !== local.id).map((p) => [p.id, p]),
    );
    this.phiOptions = { acceptablePauseMicros: ACCEPTABLE_PAUSE_MICROS_DEFAULT, ...options.phi };
    this.gossiper = new Gossiper({
      self: local.id,
      generation: local.generation,
      seeds: options.seeds.filter((s) => s !== local.id),
      random: options.random,
    });
    this.gossiper.setAppState(STATE_NAME, local.name);
    this.gossiper.setAppState(STATE_DATACENTER, local.datacenter);
    this.gossiper.setAppState(STATE_RACK, local.rack);
    this.gossiper.setAppState(STATE_TOKENS, encodeTokens(local.tokens));
    this.gossiper.setAppState(STATE_STATUS, options.status ?? 'normal');
    this.gossiper.setAppState(STATE_LOAD, '0');
    this.ringNow = TokenRing.of([]);
    this.pendingNow = this.ringNow;
    this.rebuildRing();
  }

  get local(): LocalEndpoint {
    return this.options.local;
  }

  /** One gossip round (the driver calls it every GOSSIP_INTERVAL_MS). */
  tick(nowMicros: number): readonly Outgoing[] {
    const step = this.gossiper.tick((id) => this.isAlive(id, nowMicros));
    return this.absorb(step, nowMicros);
  }

  /** A gossip message from `from`; returns the messages to send in answer. */
  receive(from: string, message: GossipMessage, nowMicros: number): readonly Outgoing[] {
    return this.absorb(this.gossiper.receive(from, message), nowMicros);
  }

  private absorb(step: GossipStep, nowMicros: number): readonly Outgoing[] {
    this.lastNowMicros = Math.max(this.lastNowMicros, nowMicros);
    for (const id of step.restarted) this.detectors.get(id)?.reset();
    for (const id of step.heard) {
      if (id === this.self) continue;
      this.heardFromPeer = true;
      let d = this.detectors.get(id);
      if (d === undefined) {
        d = new PhiAccrualDetector(this.phiOptions);
        this.detectors.set(id, d);
      }
      d.heartbeat(nowMicros);
    }
    if (step.changed.length > 0) this.rebuildRing();
    return step.send;
  }

  /** Sets one of this node's gossiped states (status, load, schema). */
  setStatus(status: EndpointStatus): void {
    this.gossiper.setAppState(STATE_STATUS, status);
    this.rebuildRing();
  }

  /** This node's status as it gossips it. */
  get status(): EndpointStatus {
    const s = this.gossiper.appState(this.self, STATE_STATUS)?.value ?? 'normal';
    return isEndpointStatus(s) ? s : 'normal';
  }

  /** Takes new tokens (a joining node's, chosen once it knows the ring) and, with them, a status. */
  setTokens(tokens: readonly bigint[], status: EndpointStatus): void {
    this.localTokens = tokens;
    this.gossiper.setAppState(STATE_TOKENS, encodeTokens(tokens));
    this.gossiper.setAppState(STATE_STATUS, status);
    this.rebuildRing();
  }

  /** The tokens this node gossips. */
  get tokens(): readonly bigint[] {
    return this.localTokens;
  }

  /** What this node says it is doing, for people ('' for nothing). */
  setProgress(text: string): void {
    if ((this.gossiper.appState(this.self, STATE_PROGRESS)?.value ?? '') !== text) {
      this.gossiper.setAppState(STATE_PROGRESS, text);
    }
  }

  /**
   * Sets a dead endpoint's status on its behalf, and spreads it by gossip (removenode: leaving
   * while its ranges are rebuilt, then left).
   * INVALID_ARGUMENT for this node or an endpoint gossip does not know.
   */
  markStatus(id: string, status: 'leaving' | 'left' | 'normal'): void {
    this.gossiper.overrideAppState(id, STATE_STATUS, status);
    this.rebuildRing();
  }

  /** The status an endpoint gossips (undefined when unknown). */
  statusOf(id: string): EndpointStatus | undefined {
    const s = this.gossiper.appState(id, STATE_STATUS)?.value;
    return s !== undefined && isEndpointStatus(s) ? s : undefined;
  }

  setLoad(bytes: number): void {
    if (this.gossiper.state(this.self)?.app.get(STATE_LOAD)?.value !== String(bytes)) {
      this.gossiper.setAppState(STATE_LOAD, String(bytes));
    }
  }

  setSchema(digest: string): void {
    if (this.gossiper.state(this.self)?.app.get(STATE_SCHEMA)?.value !== digest) {
      this.gossiper.setAppState(STATE_SCHEMA, digest);
    }
  }

  /** The node itself is always up; a peer is up while its phi is below the threshold. */
  isAlive(id: string, nowMicros: number): boolean {
    if (id === this.self) return true;
    return this.detectors.get(id)?.isAvailable(nowMicros) ?? false;
  }

  /** Every other endpoint gossip knows that is up now, by id (no state decoded). */
  livePeers(nowMicros: number): string[] {
    return this.gossiper
      .endpoints()
      .filter((id) => id !== this.self && this.isAlive(id, nowMicros));
  }

  /** The schema digest the endpoint gossips ('' when none yet). */
  schemaDigestOf(id: string): string {
    return this.gossiper.appState(id, STATE_SCHEMA)?.value ?? '';
  }

  /** The endpoint's datacenter ('' when unknown): cheap, for the coordinator's every request. */
  datacenterOf(id: string): string {
    return this.gossiper.appState(id, STATE_DATACENTER)?.value ?? '';
  }

  /**
   * How long (µs) nothing has been heard of a peer. 0 for one not heard since this node
   * started (a peer from peers.json): how long it has been silent is not known here.
   */
  silentFor(id: string, nowMicros: number): number {
    const last = id === this.self ? undefined : this.detectors.get(id)?.lastHeartbeat;
    return last === undefined ? 0 : Math.max(0, nowMicros - last);
  }

  phi(id: string, nowMicros: number): number {
    return id === this.self ? 0 : (this.detectors.get(id)?.phi(nowMicros) ?? 0);
  }

  /**
   * Whether this node knows enough of the ring to place rows: it has known peers from an earlier
   * run, or has heard from another node, or has no seed but itself (the first node of a ring).
   */
  get ready(): boolean {
    if (this.heardFromPeer || this.knownPeers.size > 0) return true;
    return this.options.seeds.every((s) => s === this.self);
  }

  /** The endpoints the ring is built from, for persisting (see header); self excluded. */
  ringPeers(): KnownPeer[] {
    return this.ringNow.endpoints
      .filter((e) => e.id !== this.self)
      .map((e) => ({ id: e.id, tokens: e.tokens, datacenter: e.datacenter, rack: e.rack }));
  }

  /** Changes whenever the ring's endpoints, tokens, datacenters or racks do. */
  get ringSignatureNow(): string {
    return this.ringSignature;
  }

  /** The token ring of the endpoints in status normal or leaving. */
  get ring(): TokenRing {
    return this.ringNow;
  }

  /** The ring once the movements under way are done (see header); `ring` when none are. */
  get pendingRing(): TokenRing {
    return this.pendingNow;
  }

  /**
   * The ring before its last change while that change is recent (`transitionMicros`, the
   * ring delay): other coordinators may not know of the change yet and still read from the
   * replicas it replaced, so writes must reach those too (see coordinator.ts). Undefined
   * otherwise.
   */
  previousRing(nowMicros: number): TokenRing | undefined {
    return this.previous !== undefined && nowMicros < this.previousUntil
      ? this.previous
      : undefined;
  }

  /** Every endpoint gossip knows, sorted by id. */
  endpoints(nowMicros: number): EndpointInfo[] {
    const out: EndpointInfo[] = [];
    for (const id of this.gossiper.endpoints()) {
      const info = this.endpoint(id, nowMicros);
      if (info !== undefined) out.push(info);
    }
    return out;
  }

  endpoint(id: string, nowMicros: number): EndpointInfo | undefined {
    const s = this.gossiper.state(id);
    if (s === undefined) return undefined;
    const get = (k: string): string | undefined => s.app.get(k)?.value;
    const status = get(STATE_STATUS);
    let tokens: bigint[] = [];
    try {
      tokens = decodeTokens(get(STATE_TOKENS) ?? '');
    } catch {
      // A peer gossiping malformed tokens owns nothing until it gossips good ones.
    }
    return {
      id,
      name: get(STATE_NAME) ?? id,
      datacenter: get(STATE_DATACENTER) ?? '',
      rack: get(STATE_RACK) ?? '',
      status: status !== undefined && isEndpointStatus(status) ? status : 'joining',
      tokens,
      load: Number(get(STATE_LOAD) ?? 0) || 0,
      schema: get(STATE_SCHEMA) ?? '',
      progress: get(STATE_PROGRESS) ?? '',
      generation: s.heartbeat.generation,
      heartbeat: s.heartbeat.version,
      alive: this.isAlive(id, nowMicros),
    };
  }

  /** Rebuilds the ring when the tokens, status, datacenter or rack of some endpoint changed. */
  private rebuildRing(): void {
    // The signature first, from the states that place rows, read without copies or parsing:
    // this runs on every gossip step that changed anything, and most change only a load.
    const members: {
      id: string;
      tokensText: string;
      datacenter: string;
      rack: string;
      status: string;
    }[] = [];
    const parts: string[] = [];
    const gossiped = new Set<string>();
    // Whether an endpoint this node knew moved between states that place rows differently:
    // a range movement (joining → normal, normal → leaving → left), not a discovery.
    let moved = false;
    const statuses = new Map<string, string>();
    for (const id of this.gossiper.endpoints()) {
      gossiped.add(id);
      const status = this.gossiper.appState(id, STATE_STATUS)?.value ?? '';
      statuses.set(id, status);
      const before = this.statuses.get(id);
      if (before !== undefined && before !== '' && before !== status) moved = true;
      if (status !== 'normal' && status !== 'leaving' && status !== 'joining') continue;
      const tokensText = this.gossiper.appState(id, STATE_TOKENS)?.value ?? '';
      const datacenter = this.gossiper.appState(id, STATE_DATACENTER)?.value ?? '';
      const rack = this.gossiper.appState(id, STATE_RACK)?.value ?? '';
      parts.push(`${id}|${status}|${datacenter}|${rack}|${tokensText}`);
      members.push({ id, tokensText, datacenter, rack, status });
    }
    // Peers known from an earlier run that gossip has not told about yet.
    const known: KnownPeer[] = [];
    for (const p of this.knownPeers.values()) {
      if (gossiped.has(p.id) || p.tokens.length === 0) continue;
      parts.push(`${p.id}|known|${p.datacenter}|${p.rack}|${encodeTokens(p.tokens)}`);
      known.push(p);
    }
    const signature = parts.sort().join('\n');
    if (signature === this.ringSignature && this.ringNow.size > 0) return;
    // Then, only when it changed, the rings themselves.
    const current: EndpointPlacement[] = [];
    const pending: EndpointPlacement[] = [];
    let moving = false;
    for (const m of members) {
      let tokens: bigint[];
      try {
        tokens = decodeTokens(m.tokensText);
      } catch {
        continue; // a peer gossiping malformed tokens owns nothing until it gossips good ones
      }
      if (tokens.length === 0) continue;
      const placement = { id: m.id, tokens, datacenter: m.datacenter, rack: m.rack };
      if (m.status !== 'joining') current.push(placement);
      if (m.status !== 'leaving') pending.push(placement);
      if (m.status !== 'normal') moving = true;
    }
    for (const p of known) {
      const placement = { id: p.id, tokens: p.tokens, datacenter: p.datacenter, rack: p.rack };
      current.push(placement);
      pending.push(placement);
    }
    this.ringSignature = signature;
    this.statuses = statuses;
    const before = this.ringNow;
    this.ringNow = TokenRing.of(current);
    // Only a movement leaves coordinators reading from replicas the ring no longer has; nodes
    // found as the ring forms, or a restart's peers heard again, move no rows.
    if (moved && before.size > 0 && (this.options.transitionMicros ?? 0) > 0) {
      this.previous = before;
      this.previousUntil = this.lastNowMicros + this.options.transitionMicros!;
    }
    this.pendingNow = moving ? TokenRing.of(pending) : this.ringNow;
  }
}
