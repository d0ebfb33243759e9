/**
 * Gossip: how every node of the hashed ring comes to know every other node's state
 * (Cassandra's Gossiper, a Scuttlebutt-style anti-entropy protocol), as a pure state machine.
 *
 * Each endpoint owns an EndpointState: a heartbeat {generation, version} and application states
 * (key -> {value, version}). The generation is chosen when the process starts and grows on every
 * restart, so a restarted node's state replaces its old incarnation everywhere. All versions of
 * one endpoint come from ONE counter shared by its heartbeat and its application states, so the
 * largest version an observer holds ("maxVersion") summarises everything it knows about that
 * endpoint: a digest (endpoint, generation, maxVersion) is enough to find out who is behind.
 *
 * Every round (GOSSIP_INTERVAL_MS) the owner bumps its heartbeat version and sends a SYN holding
 * one digest per endpoint it knows to one random live peer; to a random seed too when that peer
 * was not a seed (always when no peer looks alive, otherwise with probability
 * seeds/(live+unreachable)); and to a random unreachable endpoint with probability
 * unreachable/(live+1), so that healed partitions and restarted nodes are found again. Seeds
 * matter only as ids to gossip to: a new node that knows nobody SYNs a seed, and that is how it
 * joins.
 *
 *   SYN  (A -> B): digests of everything A knows.
 *   ACK  (B -> A): what A lacks (the whole state where B's generation is newer; where the
 *                  generations match, only entries newer than A's maxVersion) and digests of
 *                  what B wants (where A is newer).
 *   ACK2 (A -> B): the states B asked for.
 *
 * Applying a delta: a higher generation replaces the whole state, the same generation merges
 * the entries with higher versions, a lower generation is ignored. Because a delta always holds
 * EVERY entry newer than the version asked for, an observer's copy of an endpoint is always the
 * owner's state as it was at some version, and maxVersion stays a truthful summary. Deltas are
 * therefore never split: message bounds trim whole endpoints, which simply arrive a round later.
 *
 * An endpoint never accepts a remote update of its own state, whatever its generation. A higher
 * generation under our own id means that another process uses our name, or that our generation
 * source went backwards (a reset clock, a lost counter); adopting it would hide our live state,
 * so we ignore it and keep gossiping our own (the operator has to fix the configuration).
 *
 * Network input is validated before any state changes: a message of the wrong shape, with
 * numbers that are not non-negative safe integers, duplicate endpoints or keys, or contents past
 * the named bounds below makes `receive` throw INVALID_ARGUMENT and leaves the gossiper exactly
 * as it was. The driver logs it and drops the message (gossip repairs any loss next round).
 * Messages are expected to be plain data, as a decoder produces them.
 *
 * As in Cassandra, a SYN is answered only about the endpoints it names: a node learns of an
 * endpoint it has never heard of when some node that knows it SYNs it (after joining through a
 * seed, within a round or two, since the seed soon picks it as a live peer). Where this differs
 * from Cassandra: our digests start at a random place in our list instead of being shuffled (one
 * random draw instead of one per endpoint, the same fairness when a bound trims them); an empty
 * ACK or ACK2 is not sent; there is no shadow round at start-up; forgotten endpoints are kept
 * out by a bounded "removed at generation" map instead of a quarantine timer; and generations
 * are not checked against a "too far in the future" bound, as their unit is the caller's.
 *
 * The gossiper does not know addresses or time: endpoint ids are node names (the driver
 * publishes "address" as an application state), rounds are `tick()` calls, and liveness comes
 * from the driver's failure detector through `isAlive`, fed by the `heard` list of each step.
 */
import type { Random } from '../env/types.js';
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';

/** How often the driver calls `tick()`. */
export const GOSSIP_INTERVAL_MS = 1000;
/** Digests in one SYN, and requests in one ACK. A gossiper knowing more sends a random subset. */
export const GOSSIP_DIGESTS_MAX = 10_000;
/** Endpoint deltas in one ACK or ACK2; the rest go in later rounds. */
export const GOSSIP_DELTAS_MAX = 10_000;
/** Application states one endpoint may have. */
export const GOSSIP_APP_STATES_MAX = 64;
/**
 * Length (UTF-16 units) of an endpoint id, an application-state key and its value. A value
 * holds up to VNODES_MAX (1024) ring tokens of up to 20 digits and a comma each: 21,504 units.
 */
export const GOSSIP_ENDPOINT_CHARS_MAX = 256;
export const GOSSIP_KEY_CHARS_MAX = 64;
export const GOSSIP_VALUE_CHARS_MAX = 32 * 1024;
/**
 * Keys plus values (UTF-16 units) across the deltas of one message: with ASCII values, about
 * 4 MiB on the wire, well inside the RPC layer's 16 MiB default frame. One endpoint's whole
 * state (at most 64 * (64 + 32,768) units, about 2 Mi) always fits, so trimming never stalls.
 */
export const GOSSIP_DELTA_CHARS_MAX = 4 * 1024 * 1024;
/** Forgotten endpoints remembered with their generation; the oldest is dropped past this. */
export const GOSSIP_REMOVED_MAX = 1024;

export interface VersionedValue {
  readonly value: string;
  readonly version: number;
}
export interface HeartbeatState {
  readonly generation: number;
  readonly version: number;
}
export interface EndpointStateView {
  readonly heartbeat: HeartbeatState;
  readonly app: ReadonlyMap<string, VersionedValue>;
}
export interface GossipDigest {
  readonly endpoint: string;
  readonly generation: number;
  readonly maxVersion: number;
}
/** Part or all of one endpoint's state; `app` holds [key, value, version] triples. */
export interface EndpointDelta {
  readonly endpoint: string;
  readonly generation: number;
  readonly heartbeatVersion: number;
  readonly app: readonly (readonly [string, string, number])[];
}
export type GossipMessage =
  | { readonly kind: 'syn'; readonly digests: readonly GossipDigest[] }
  | {
      readonly kind: 'ack';
      readonly deltas: readonly EndpointDelta[];
      readonly requests: readonly GossipDigest[];
    }
  | { readonly kind: 'ack2'; readonly deltas: readonly EndpointDelta[] };
export interface Outgoing {
  readonly to: string;
  readonly message: GossipMessage;
}
export interface GossipStep {
  readonly send: readonly Outgoing[];
  /** Endpoints whose heartbeat advanced (or that are new, or restarted) in this step: the driver reports a heartbeat to their failure detector. */
  readonly heard: readonly string[];
  /** Endpoints whose app state changed in this step (new endpoint, new generation, or newer values): the driver re-reads their state. */
  readonly changed: readonly string[];
  /** Endpoints seen with a new (higher) generation in this step: restarted. */
  readonly restarted: readonly string[];
}
export interface GossiperOptions {
  readonly self: string;
  /** Larger on every restart of this process (wall-clock seconds or a persisted counter). */
  readonly generation: number;
  /** Ids to SYN when joining or when isolated; our own id may be among them. */
  readonly seeds: readonly string[];
  readonly random: Random;
}

/** One endpoint's state as this gossiper knows it. */
interface EndpointRecord {
  readonly id: string;
  generation: number;
  heartbeatVersion: number;
  readonly app: Map<string, VersionedValue>;
  /** The largest version in `app`, 0 when empty; maxVersionOf() adds the heartbeat's. */
  appVersionMax: number;
  /** Marks the record as named in the message list being checked (see Sightings). */
  listStamp: number;
}

const emptyApp: readonly (readonly [string, string, number])[] = Object.freeze([]);

export class Gossiper {
  readonly self: string;
  private readonly random: Random;
  /** Seeds other than ourselves, without duplicates. */
  private readonly seeds: readonly string[];
  private readonly seedSet: ReadonlySet<string>;
  private readonly states = new Map<string, EndpointRecord>();
  /** Known endpoints other than ourselves, in the order learned (for O(1) random choice). */
  private readonly others: EndpointRecord[] = [];
  /** Forgotten endpoints -> the generation they had: that generation or older stays forgotten. */
  private readonly removed = new Map<string, number>();
  private readonly own: EndpointRecord;
  /** The last version handed out by our one version counter. */
  private versionLast = 0;
  /** Numbers the lists of messages checked for an endpoint named twice (see Sightings). */
  private listStampLast = 0;

  constructor(options: GossiperOptions) {
    this.self = checkEndpoint(options.self, 'self');
    const generation = checkCount(options.generation, 0, 'generation');
    if (!Array.isArray(options.seeds)) throw invalidArgument('seeds must be an array');
    const seeds = new Set<string>();
    for (const seed of options.seeds) {
      if (checkEndpoint(seed, 'seed') !== this.self) seeds.add(seed);
    }
    this.seeds = [...seeds];
    this.seedSet = seeds;
    this.random = options.random;
    this.own = newRecord(this.self, generation);
    this.states.set(this.self, this.own);
  }

  /** Sets one of our own application states (bumps our version). */
  setAppState(key: string, value: string): void {
    checkString(key, GOSSIP_KEY_CHARS_MAX, 'key');
    if (key.length === 0) throw invalidArgument('application-state key must not be empty');
    checkString(value, GOSSIP_VALUE_CHARS_MAX, 'value');
    const old = this.own.app.get(key);
    if (old === undefined && this.own.app.size >= GOSSIP_APP_STATES_MAX) {
      throw invalidArgument(`at most ${GOSSIP_APP_STATES_MAX} application states`, { key });
    }
    const version = this.nextVersion();
    this.own.app.set(key, { value, version });
    this.own.appVersionMax = version;
  }

  /** One round: bump heartbeat, choose peers; `isAlive(id)` says which known endpoints the failure detector thinks are up. */
  tick(isAlive: (id: string) => boolean): GossipStep {
    this.own.heartbeatVersion = this.nextVersion();
    const live: string[] = [];
    const unreachable: string[] = [];
    for (const { id } of this.others) (isAlive(id) ? live : unreachable).push(id);

    // Cassandra's Gossiper.run(): one live peer, sometimes an unreachable one, and a seed when
    // the live peer was not one, so that the cluster cannot split into groups that each gossip
    // with a different subset of the seeds.
    const targets = new Set<string>();
    let gossipedToSeed = false;
    if (live.length > 0) {
      const peer = this.pick(live);
      targets.add(peer);
      gossipedToSeed = this.seedSet.has(peer);
    }
    if (unreachable.length > 0 && this.random.float() < unreachable.length / (live.length + 1)) {
      targets.add(this.pick(unreachable));
    }
    if (this.seeds.length > 0 && (!gossipedToSeed || live.length < this.seeds.length)) {
      const always = live.length === 0;
      if (always || this.random.float() <= this.seeds.length / (live.length + unreachable.length)) {
        targets.add(this.pick(this.seeds));
      }
    }
    if (targets.size === 0) return emptyStep;
    const message: GossipMessage = { kind: 'syn', digests: this.digests() };
    return { ...emptyStep, send: [...targets].map((to) => ({ to, message })) };
  }

  /**
   * Handles one message from `from`. Throws INVALID_ARGUMENT, changing nothing, when the message
   * is malformed or exceeds a bound (see the file comment).
   */
  receive(from: string, message: GossipMessage): GossipStep {
    checkEndpoint(from, 'from');
    if (from === this.self) throw invalidArgument('a gossip message from ourselves', { from });
    const m: unknown = message;
    if (!isObject(m)) throw invalidArgument('a gossip message must be an object', { from });
    const step = new StepBuilder();
    switch (m.kind) {
      case 'syn':
        this.onSyn(from, m.digests, step);
        break;
      case 'ack': {
        // Answering reads our state only, so it can check the requests as it goes. It comes
        // before applying the deltas, which need the whole list checked first; the two never
        // name the same endpoint (the peer asks for what we have newer and sends what it has
        // newer), so the order does not change the answer.
        const answer = this.answer(m.requests);
        this.applyAll(checkDeltas(m.deltas, this.sightings()), step);
        if (answer.length > 0)
          step.send.push({ to: from, message: { kind: 'ack2', deltas: answer } });
        break;
      }
      case 'ack2':
        this.applyAll(checkDeltas(m.deltas, this.sightings()), step);
        break;
      default:
        throw invalidArgument('unknown gossip message kind', { from, kind: String(m.kind) });
    }
    return step.build();
  }

  /** Every known endpoint id, sorted, ourselves included. */
  endpoints(): string[] {
    return [...this.states.keys()].sort();
  }

  /** A snapshot of what we know of `id`, or undefined when it is unknown (or forgotten). */
  state(id: string): EndpointStateView | undefined {
    const record = this.states.get(id);
    if (record === undefined) return undefined;
    return {
      heartbeat: { generation: record.generation, version: record.heartbeatVersion },
      app: new Map(record.app),
    };
  }

  /** One application state of `id`, without copying the whole state as `state()` does. */
  appState(id: string, key: string): VersionedValue | undefined {
    return this.states.get(id)?.app.get(key);
  }

  /**
   * Removes an endpoint (after it left the ring). Its generation is remembered (for the last
   * GOSSIP_REMOVED_MAX forgotten endpoints), so gossip still carrying that generation or an
   * older one cannot bring it back; a higher generation (the node came back) can. Forgetting an
   * unknown endpoint does nothing; forgetting ourselves is INVALID_ARGUMENT.
   */
  forget(id: string): void {
    if (id === this.self) throw invalidArgument('a gossiper cannot forget itself', { id });
    const record = this.states.get(id);
    if (record === undefined) return;
    this.states.delete(id);
    this.others.splice(this.others.indexOf(record), 1);
    this.removed.delete(id);
    this.removed.set(id, record.generation);
    if (this.removed.size > GOSSIP_REMOVED_MAX) {
      this.removed.delete(this.removed.keys().next().value!);
    }
  }

  /**
   * Sets an application state of ANOTHER endpoint, as a newer version of its state, so that it
   * spreads: what `tessera removenode` does to a dead node's status (Cassandra's
   * advertiseRemoving). Only for an endpoint that is gone: if it is alive, its own next change
   * of that key, or a restart (a larger generation), wins. INVALID_ARGUMENT for ourselves or an
   * unknown endpoint.
   */
  overrideAppState(id: string, key: string, value: string): void {
    if (id === this.self) throw invalidArgument('use setAppState for our own state', { id });
    const record = this.states.get(id);
    if (record === undefined) throw invalidArgument(`unknown endpoint ${id}`, { id });
    checkString(value, GOSSIP_VALUE_CHARS_MAX, 'value');
    const version = maxVersionOf(record) + 1;
    record.app.set(key, { value, version });
    record.appVersionMax = version;
  }

  private nextVersion(): number {
    this.versionLast += 1;
    assert(Number.isSafeInteger(this.versionLast), 'gossip version counter overflow');
    return this.versionLast;
  }

  private sightings(): Sightings {
    this.listStampLast += 1;
    return new Sightings(this.states, this.listStampLast);
  }

  private pick(ids: readonly string[]): string {
    return ids[this.random.int(ids.length)]!;
  }

  /**
   * Our digest, then the others' from a random starting point (wrapping around), at most
   * GOSSIP_DIGESTS_MAX in all. The random start does what Cassandra's shuffle of the digests
   * does, for one draw instead of one per endpoint: when a bound trims the digests, or the
   * deltas answering them, different endpoints are left out each round.
   */
  private digests(): GossipDigest[] {
    const others = this.others;
    const count = Math.min(others.length, GOSSIP_DIGESTS_MAX - 1);
    const out: GossipDigest[] = [digestOf(this.own)];
    let at = others.length > 0 ? this.random.int(others.length) : 0;
    for (let i = 0; i < count; i++) {
      out.push(digestOf(others[at]!));
      at = at + 1 === others.length ? 0 : at + 1;
    }
    return out;
  }

  /**
   * Cassandra's examineGossiper: what the SYN's sender lacks, and what we want from it. It only
   * reads our state, so it checks each digest as it goes and may throw half-way.
   */
  private onSyn(from: string, digests: unknown, step: StepBuilder): void {
    const list = checkList(digests, GOSSIP_DIGESTS_MAX, 'digests');
    const sightings = this.sightings();
    const deltas = new DeltaBudget();
    const requests: GossipDigest[] = [];
    for (const digest of list) {
      const { endpoint, generation, maxVersion } = checkDigest(digest, 'digests');
      const local = sightings.first(endpoint);
      if (local === undefined || generation > local.generation) {
        // maxVersion 0 asks for everything: application versions start at 1.
        if (this.wanted(endpoint, generation)) {
          requests.push({ endpoint, generation, maxVersion: 0 });
        }
      } else if (generation < local.generation) {
        deltas.add(local, 0);
      } else {
        const localVersion = maxVersionOf(local);
        if (maxVersion < localVersion) {
          deltas.add(local, maxVersion);
        } else if (maxVersion > localVersion && this.wanted(endpoint, generation)) {
          requests.push({ endpoint, generation, maxVersion: localVersion });
        }
      }
    }
    // An empty ACK carries nothing, so it is not sent.
    if (deltas.list.length > 0 || requests.length > 0) {
      step.send.push({ to: from, message: { kind: 'ack', deltas: deltas.list, requests } });
    }
  }

  /** The deltas answering an ACK's requests, checking each request as it goes. */
  private answer(requests: unknown): EndpointDelta[] {
    const list = checkList(requests, GOSSIP_DIGESTS_MAX, 'requests');
    const sightings = this.sightings();
    const deltas = new DeltaBudget();
    for (const request of list) {
      const { endpoint, generation, maxVersion } = checkDigest(request, 'requests');
      const local = sightings.first(endpoint);
      if (local === undefined || local.generation < generation) continue;
      if (local.generation > generation) {
        deltas.add(local, 0);
      } else if (maxVersionOf(local) > maxVersion) {
        deltas.add(local, maxVersion);
      }
    }
    return deltas.list;
  }

  /** Whether to ask for an endpoint's state: never our own, nor a forgotten incarnation. */
  private wanted(endpoint: string, generation: number): boolean {
    return endpoint !== this.self && !this.isRemoved(endpoint, generation);
  }

  private applyAll(deltas: readonly EndpointDelta[], step: StepBuilder): void {
    for (const delta of deltas) this.apply(delta, step);
  }

  private apply(delta: EndpointDelta, step: StepBuilder): void {
    const id = delta.endpoint;
    if (id === this.self) return; // Never from others: see the file comment.
    const local = this.states.get(id);
    if (local === undefined) {
      if (this.isRemoved(id, delta.generation)) return;
      this.removed.delete(id);
      const record = newRecord(id, delta.generation);
      merge(record, delta);
      this.states.set(id, record);
      this.others.push(record);
      step.note(id, true, false);
    } else if (delta.generation > local.generation) {
      local.generation = delta.generation;
      local.heartbeatVersion = 0;
      local.app.clear();
      local.appVersionMax = 0;
      merge(local, delta);
      step.note(id, true, true);
    } else if (delta.generation === local.generation) {
      // A peer that is not the owner could name more keys than the owner may have; refuse
      // such a delta whole rather than keep part of it.
      if (delta.app.length > 0 && countKeysAfter(local, delta) > GOSSIP_APP_STATES_MAX) return;
      const heartbeatOld = local.heartbeatVersion;
      const appChanged = merge(local, delta);
      // Only a heartbeat that advanced is news of the endpoint being alive: a state another node
      // set on its behalf (removenode's overrideAppState) must not revive a dead one.
      const beat = local.heartbeatVersion > heartbeatOld;
      if (appChanged || beat) step.note(id, appChanged, false, beat);
    }
  }

  private isRemoved(id: string, generation: number): boolean {
    const removedAt = this.removed.get(id);
    return removedAt !== undefined && generation <= removedAt;
  }
}

/**
 * Finds an endpoint named twice in one list of a message. Known endpoints are marked with the
 * list's stamp, so the common case costs the map lookup the caller needed anyway and no
 * allocation; unknown ones go in a set.
 */
class Sightings {
  private unknown: Set<string> | undefined;

  constructor(
    private readonly states: ReadonlyMap<string, EndpointRecord>,
    private readonly stamp: number,
  ) {}

  /** Our record of `endpoint` (undefined when unknown); throws when the list named it before. */
  first(endpoint: string): EndpointRecord | undefined {
    const record = this.states.get(endpoint);
    if (record !== undefined) {
      if (record.listStamp === this.stamp) throw twice(endpoint);
      record.listStamp = this.stamp;
    } else {
      this.unknown ??= new Set();
      if (this.unknown.has(endpoint)) throw twice(endpoint);
      this.unknown.add(endpoint);
    }
    return record;
  }
}

function twice(endpoint: string): Error {
  return invalidArgument('a gossip message names an endpoint twice in one list', { endpoint });
}

/**
 * Merges a delta of the same generation into `record`: the heartbeat and each entry advance only
 * to higher versions. Returns whether any application state changed.
 */
function merge(record: EndpointRecord, delta: EndpointDelta): boolean {
  let changed = false;
  if (delta.heartbeatVersion > record.heartbeatVersion) {
    record.heartbeatVersion = delta.heartbeatVersion;
  }
  for (const [key, value, version] of delta.app) {
    const old = record.app.get(key);
    if (old !== undefined && old.version >= version) continue;
    record.app.set(key, { value, version });
    record.appVersionMax = Math.max(record.appVersionMax, version);
    changed = true;
  }
  return changed;
}

function newRecord(id: string, generation: number): EndpointRecord {
  return {
    id,
    generation,
    heartbeatVersion: 0,
    app: new Map(),
    appVersionMax: 0,
    listStamp: 0,
  };
}

/** The largest version of everything we hold of an endpoint: what its digest carries. */
function maxVersionOf(record: EndpointRecord): number {
  return Math.max(record.heartbeatVersion, record.appVersionMax);
}

/** How many keys `record` would have after merging `delta`. */
function countKeysAfter(record: EndpointRecord, delta: EndpointDelta): number {
  let count = record.app.size;
  for (const [key] of delta.app) if (!record.app.has(key)) count++;
  return count;
}

function digestOf(record: EndpointRecord): GossipDigest {
  return { endpoint: record.id, generation: record.generation, maxVersion: maxVersionOf(record) };
}

/** Builds the deltas of one message, stopping at GOSSIP_DELTAS_MAX and GOSSIP_DELTA_CHARS_MAX. */
class DeltaBudget {
  readonly list: EndpointDelta[] = [];
  private chars = 0;
  private full = false;

  /** Adds the entries of `record` newer than `after` (0: all of them), unless the budget is spent. */
  add(record: EndpointRecord, after: number): void {
    if (this.full) return;
    let app = emptyApp;
    let chars = 0;
    // Most deltas carry only a newer heartbeat: skip the entries unless one of them is newer.
    if (record.appVersionMax > after) {
      const entries: (readonly [string, string, number])[] = [];
      for (const [key, { value, version }] of record.app) {
        if (version <= after) continue;
        entries.push([key, value, version]);
        chars += key.length + value.length;
      }
      app = entries;
    }
    if (this.list.length >= GOSSIP_DELTAS_MAX || this.chars + chars > GOSSIP_DELTA_CHARS_MAX) {
      // Whole endpoints only (see the file comment). The digests being answered start at a
      // random place in the sender's list, so the ones left out differ from round to round.
      this.full = true;
      return;
    }
    this.chars += chars;
    this.list.push({
      endpoint: record.id,
      generation: record.generation,
      heartbeatVersion: record.heartbeatVersion,
      app,
    });
  }
}

const emptyStep: GossipStep = Object.freeze({
  send: Object.freeze([]),
  heard: Object.freeze([]),
  changed: Object.freeze([]),
  restarted: Object.freeze([]),
});

class StepBuilder {
  readonly send: Outgoing[] = [];
  private readonly heard: string[] = [];
  private readonly changed: string[] = [];
  private readonly restarted: string[] = [];

  /** One endpoint advanced; each endpoint appears at most once per message, so no duplicates. */
  note(id: string, changed: boolean, restarted: boolean, heard = true): void {
    if (heard) this.heard.push(id);
    if (changed) this.changed.push(id);
    if (restarted) this.restarted.push(id);
  }

  build(): GossipStep {
    return { send: this.send, heard: this.heard, changed: this.changed, restarted: this.restarted };
  }
}

// ---------------------------------------------------------------------------------------------
// Validation of network input. Everything is checked before anything is applied.

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function checkString(x: unknown, charsMax: number, what: string): string {
  if (typeof x !== 'string') throw invalidArgument(`${what} must be a string`);
  if (x.length > charsMax) {
    throw invalidArgument(`${what} is longer than ${charsMax} characters`, { length: x.length });
  }
  return x;
}

function checkEndpoint(x: unknown, what: string): string {
  const id = checkString(x, GOSSIP_ENDPOINT_CHARS_MAX, what);
  if (id.length === 0) throw invalidArgument(`${what} must not be empty`);
  return id;
}

/** A safe integer >= min (generations and versions). */
function checkCount(x: unknown, min: number, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) {
    throw invalidArgument(`${what} must be a safe integer >= ${min}`, { value: String(x) });
  }
  return x;
}

function checkList(x: unknown, itemsMax: number, what: string): readonly unknown[] {
  if (!Array.isArray(x)) throw invalidArgument(`${what} must be an array`);
  if (x.length > itemsMax) {
    throw invalidArgument(`${what} holds more than ${itemsMax} items`, { length: x.length });
  }
  return x;
}

/** One digest (or request) of a message; the caller checks for an endpoint named twice. */
function checkDigest(d: unknown, what: string): GossipDigest {
  if (!isObject(d)) throw invalidArgument(`${what}: a digest must be an object`);
  checkEndpoint(d.endpoint, 'digest endpoint');
  checkCount(d.generation, 0, 'digest generation');
  checkCount(d.maxVersion, 0, 'digest maxVersion');
  return d as unknown as GossipDigest;
}

function checkDeltas(x: unknown, sightings: Sightings): readonly EndpointDelta[] {
  const list = checkList(x, GOSSIP_DELTAS_MAX, 'deltas');
  let chars = 0;
  for (const d of list) {
    if (!isObject(d)) throw invalidArgument('a delta must be an object');
    const endpoint = checkEndpoint(d.endpoint, 'delta endpoint');
    checkCount(d.generation, 0, 'delta generation');
    checkCount(d.heartbeatVersion, 0, 'delta heartbeatVersion');
    sightings.first(endpoint);
    const app = checkList(d.app, GOSSIP_APP_STATES_MAX, 'delta app');
    const keys = app.length > 1 ? new Set<string>() : undefined;
    for (const entry of app) {
      if (!Array.isArray(entry) || entry.length !== 3) {
        throw invalidArgument('an application state must be [key, value, version]', { endpoint });
      }
      const key = checkString(entry[0], GOSSIP_KEY_CHARS_MAX, 'application-state key');
      const value = checkString(entry[1], GOSSIP_VALUE_CHARS_MAX, 'application-state value');
      checkCount(entry[2], 1, 'application-state version');
      if (key.length === 0) throw invalidArgument('empty application-state key', { endpoint });
      if (keys !== undefined) {
        if (keys.has(key)) throw invalidArgument('application-state key twice', { endpoint, key });
        keys.add(key);
      }
      chars += key.length + value.length;
    }
  }
  if (chars > GOSSIP_DELTA_CHARS_MAX) {
    throw invalidArgument(`deltas hold more than ${GOSSIP_DELTA_CHARS_MAX} characters`, { chars });
  }
  return list as readonly EndpointDelta[];
}
