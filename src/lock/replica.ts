/**
 * LockReplica: one lock-service replica — a RaftNode whose committed entries are lock commands
 * applied to a LockStateMachine.
 *
 * - Writes: `propose(cmd)` stamps the command with this (leader's) wall clock in milliseconds,
 *   proposes it, waits until this replica applied it and returns the state machine's result
 *   for that log index. Results are kept by index from `apply` until their proposer takes them
 *   (at most RESULTS_KEPT_MAX; older ones are dropped, and a proposer that finds none gets
 *   UNAVAILABLE: outcome unknown).
 * - Reads: `read(fn)` waits for a Raft read index (`RaftNode.read()`), then runs `fn` on the
 *   state machine: linearizable.
 * - Only the leader serves: both refuse with NOT_LEADER (`details.leaderHint`) elsewhere.
 * - Session expiry: every `expireEveryMs` the leader proposes `expireSessions{now}` when its
 *   state machine has sessions expired at its clock's `now`.
 * - Snapshots: `capture` is the state machine's `beginSnapshot()` (written in slices between
 *   other work, copy-on-write), `restore` its `restore()`.
 * - Transport: Raft messages (consensus codec) that fit a UDP datagram travel as datagrams
 *   from a socket bound at this replica's `raft` address; larger ones (big appends, snapshots)
 *   travel over TCP (StreamTransport: length-prefixed frames) to the same host and port.
 *   Small messages stay datagrams because one TCP stream stalls everything behind a lost
 *   segment for a retransmission timeout (≥ 200 ms), longer than an election timeout at short
 *   ticks; a datagram loss costs one message. Raft tolerates the reordering between the two.
 *   A peer given by one address uses `raftAddressFor(client)` for Raft.
 * - Session ids are chosen by the leader: term × 2^20 + a counter, unique because one term has
 *   one leader (beyond 2^20 sessions in one term the id comes from env.random instead).
 */
import type { Address, DatagramSocket, Env, Timer } from '../env/types.js';
import {
  RaftNode,
  decodeMessage,
  encodeMessage,
  type Entry,
  type Snapshot,
} from '../consensus/index.js';
import type { RaftStatus } from '../consensus/index.js';
import { StreamTransport } from '../consensus/stream-transport.js';
import { TesseraError } from '../util/errors.js';
import { decodeCommand, encodeCommand, type LockCommand, type LockResult } from './commands.js';
import { MAX_DATA_BYTES } from './namespace.js';
import { LockStateMachine } from './state-machine.js';
import { SNAPSHOT_SLICE_DEFAULT, type SnapshotSlice } from './snapshot-writer.js';
import type { WatchEvent } from './watches.js';

/**
 * What an `onApplied` listener hears: the watch events of each applied entry (possibly none),
 * in log order, or that the state was replaced by a snapshot up to `index` (events before it
 * are unknown).
 */
export type AppliedNotice =
  | { readonly type: 'applied'; readonly index: number; readonly events: readonly WatchEvent[] }
  | { readonly type: 'restored'; readonly index: number };

/** A command as a client asks for it: the replica adds the `now` stamp. */
export type UnstampedCommand = LockCommand extends infer C
  ? C extends LockCommand
    ? Omit<C, 'now'>
    : never
  : never;

export interface LockPeer {
  readonly id: number;
  /** Where this replica takes Raft datagrams (UDP) and connections (TCP, large messages). */
  readonly raft: Address;
  /** Where the replica serves clients (reported in NOT_LEADER redirects); optional. */
  readonly client?: Address;
}

export interface LockReplicaOptions {
  readonly env: Env;
  readonly id: number;
  /** Every replica of the cluster, this one included. */
  readonly peers: readonly LockPeer[];
  /** Directory in env.fs for the Raft log. */
  readonly dir: string;
  /** Address the Raft socket and listener bind to; default this replica's `raft` address. */
  readonly bind?: Address;
  readonly tickMs?: number;
  readonly requestTimeoutMs?: number;
  /** Applied entries between snapshots. Default SNAPSHOT_ENTRIES_DEFAULT. */
  readonly snapshotEntries?: number;
  /** Applied data bytes between snapshots. Default SNAPSHOT_BYTES_DEFAULT. */
  readonly snapshotBytes?: number;
  /** How much of a snapshot is written between other work. Default SNAPSHOT_SLICE_DEFAULT. */
  readonly snapshotSlice?: SnapshotSlice;
  /** How often the leader looks for expired sessions. Default EXPIRE_EVERY_MS_DEFAULT. */
  readonly expireEveryMs?: number;
  /** Hears the error that stopped this replica's Raft node for good (see RaftNodeOptions). */
  readonly onFailure?: (err: unknown) => void;
}

/**
 * A replica snapshots its state and compacts its log after this many entries (etcd's and
 * ZooKeeper's default too) or SNAPSHOT_BYTES_DEFAULT of entry data, whichever comes first. Each
 * snapshot serializes the whole namespace; at 10,000 entries it cost a tenth of the write
 * throughput of `tessera bench lock`, where 1 KiB writes now snapshot every 64 MiB.
 */
export const SNAPSHOT_ENTRIES_DEFAULT = 100_000;
export const SNAPSHOT_BYTES_DEFAULT = 64 * 1024 * 1024;
/**
 * Raft tick of a lock replica: elections time out after 10–19 ticks, so 50 ms gives a new
 * leader within about a second of the old one's death (the lock service promises 2 s), at
 * the cost of a heartbeat every 50 ms.
 */
export const TICK_MS_DEFAULT = 50;
export const EXPIRE_EVERY_MS_DEFAULT = 500;
/** Results kept for proposers that have not picked theirs up yet. */
export const RESULTS_KEPT_MAX = 4096;

const SESSIONS_PER_TERM = 2 ** 20;

/** Raft messages up to this size (the UDP payload limit) travel as datagrams. */
export const RAFT_DATAGRAM_BYTES_MAX = 65_507;
/**
 * Larger Raft messages travel as length-prefixed frames over TCP; one frame holds at most this
 * many bytes (an install-snapshot message carries the whole snapshot, so this bounds snapshots:
 * a million nodes of 100 bytes snapshot to ~115 MiB).
 */
export const RAFT_FRAME_BYTES_MAX = 1024 * 1024 * 1024;
/** Entry bytes per append message (Raft's default; one larger entry still goes alone). */
export const APPEND_BYTES_MAX = 1024 * 1024;
/**
 * Entries per append message: high enough that APPEND_BYTES_MAX is the bound that counts (as
 * in etcd), so one Ready's batch goes to a follower as one message, not one per 64 entries.
 */
export const APPEND_ENTRIES_MAX = 4096;
/**
 * The largest encoded command a replica accepts: a node's full data (MAX_DATA_BYTES) plus room
 * for its path and fields. Larger ones are refused up front with INVALID_ARGUMENT.
 */
export const COMMAND_BYTES_MAX = MAX_DATA_BYTES + 64 * 1024;
/** Raft port = client port + RAFT_PORT_OFFSET (− when that passes 65535): see raftAddressFor. */
export const RAFT_PORT_OFFSET = 1000;

/**
 * The Raft address (UDP and TCP) of a replica known by its client address: same host, port
 * RAFT_PORT_OFFSET above (or below, near the top of the port range). Client RPC and Raft's
 * large messages are both TCP, so they cannot share one port number.
 */
export function raftAddressFor(client: Address): Address {
  const up = client.port + RAFT_PORT_OFFSET;
  return { host: client.host, port: up <= 65_535 ? up : client.port - RAFT_PORT_OFFSET };
}

export class LockReplica {
  readonly id: number;
  private sm = new LockStateMachine();
  private readonly results = new Map<number, LockResult>();
  private readonly appliedListeners = new Set<(notice: AppliedNotice) => void>();
  private readonly peers: ReadonlyMap<number, LockPeer>;
  private node!: RaftNode;
  private raftStarted = false;
  private transport!: StreamTransport;
  private socket!: DatagramSocket;
  private expireTimer: Timer | undefined;
  private expiring = false;
  private sessionTerm = 0;
  private sessionCount = 0;
  private stopped = false;
  /** Raft messages dropped because they exceeded RAFT_FRAME_BYTES_MAX (a huge snapshot). */
  get oversizedDrops(): number {
    return this.transport.stats.oversizedDrops;
  }

  /** Large Raft messages dropped by the TCP transport (oversized, full or unreachable peer). */
  get transportDrops(): number {
    return this.transport.stats.drops;
  }

  private constructor(private readonly opts: LockReplicaOptions) {
    this.id = opts.id;
    this.peers = new Map(opts.peers.map((p) => [p.id, p]));
  }

  /** Listens for Raft connections, opens the Raft log (restoring the latest snapshot) and starts. */
  static async start(opts: LockReplicaOptions): Promise<LockReplica> {
    const self = opts.peers.find((p) => p.id === opts.id);
    if (self === undefined) {
      throw new TesseraError('INVALID_ARGUMENT', `replica ${opts.id} is not among its peers`);
    }
    const r = new LockReplica(opts);
    const env = opts.env;
    r.socket = await env.net.bindDatagram(opts.bind ?? self.raft);
    try {
      r.transport = await StreamTransport.start(env, {
        self: opts.id,
        listen: opts.bind ?? self.raft,
        peers: new Map(opts.peers.map((p) => [p.id, p.raft])),
        frameBytesMax: RAFT_FRAME_BYTES_MAX,
        // Messages can arrive before RaftNode.start resolves: dropped like lost ones.
        onMessage: (msg) => {
          if (r.raftStarted) r.node.receive(msg);
        },
      });
    } catch (err) {
      await r.socket.close();
      throw err;
    }
    try {
      r.node = await RaftNode.start({
        env,
        id: opts.id,
        voters: opts.peers.map((p) => p.id),
        dir: opts.dir,
        tickMs: opts.tickMs ?? TICK_MS_DEFAULT,
        requestTimeoutMs: opts.requestTimeoutMs,
        snapshotEntries: opts.snapshotEntries ?? SNAPSHOT_ENTRIES_DEFAULT,
        snapshotBytes: opts.snapshotBytes ?? SNAPSHOT_BYTES_DEFAULT,
        // Written in slices: a large namespace never stops the replica for the whole snapshot.
        capture: () => r.sm.beginSnapshot(opts.snapshotSlice ?? SNAPSHOT_SLICE_DEFAULT),
        restore: (s: Snapshot) => r.restore(s),
        apply: (e: Entry) => r.apply(e),
        tuning: { appendBytesMax: APPEND_BYTES_MAX, appendEntriesMax: APPEND_ENTRIES_MAX },
        ...(opts.onFailure !== undefined ? { onFailure: opts.onFailure } : {}),
        // Never throws (a throw here would stop the Raft node for good): drops are counted.
        transport: {
          send: (to, msg) => {
            const peer = r.peers.get(to);
            if (peer === undefined) return;
            const bytes = encodeMessage(msg);
            if (bytes.length <= RAFT_DATAGRAM_BYTES_MAX) r.socket.send(peer.raft, bytes);
            else r.transport.sendEncoded(to, bytes);
          },
        },
      });
    } catch (err) {
      await r.transport.close();
      await r.socket.close();
      throw err;
    }
    r.raftStarted = true;
    r.socket.setHandler((data) => {
      let msg;
      try {
        msg = decodeMessage(data);
      } catch {
        return; // garbage on the Raft port: dropped like a lost datagram
      }
      r.node.receive(msg);
    });
    r.expireTimer = env.timers.every(opts.expireEveryMs ?? EXPIRE_EVERY_MS_DEFAULT, () =>
      r.maybeExpire(),
    );
    return r;
  }

  status(): RaftStatus {
    return this.node.status();
  }

  get isLeader(): boolean {
    return !this.stopped && this.node.status().role === 'leader';
  }

  /** The leader's id as this replica knows it (0: none known). */
  get leaderId(): number {
    return this.node.status().leader;
  }

  /** The client address of replica `id`, when configured. */
  clientAddress(id: number): Address | undefined {
    return this.peers.get(id)?.client;
  }

  /** The state machine as applied so far (not linearizable by itself: use `read`). */
  get stateMachine(): LockStateMachine {
    return this.sm;
  }

  /** The Env this replica runs on (the service's watch timers use it). */
  get env(): Env {
    return this.opts.env;
  }

  /**
   * Calls `listener` after every entry this replica applies (leader or not) and after every
   * snapshot restore; returns the unsubscribe function.
   */
  onApplied(listener: (notice: AppliedNotice) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** The error that stopped the Raft node, if any. */
  get failure(): unknown {
    return this.node.failure;
  }

  /** Proposes `cmd` stamped with this replica's clock; resolves with its result once applied. */
  async propose(cmd: UnstampedCommand): Promise<LockResult> {
    this.requireLeader();
    const now = Math.floor(this.opts.env.clock.nowMicros() / 1000);
    const stamped = { ...cmd, now } as LockCommand;
    const encoded = encodeCommand(stamped);
    if (encoded.length > COMMAND_BYTES_MAX) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `command of ${encoded.length} bytes exceeds ${COMMAND_BYTES_MAX}`,
        { bytes: encoded.length, bytesMax: COMMAND_BYTES_MAX },
      );
    }
    const { index } = await this.node.propose(encoded);
    const result = this.results.get(index);
    if (result === undefined) {
      throw new TesseraError('UNAVAILABLE', 'proposal outcome unknown: its result was dropped', {
        reason: 'unknown-outcome',
        index,
      });
    }
    this.results.delete(index);
    return result;
  }

  /** Opens a session with a leader-chosen id. */
  openSession(ttlMs: number): Promise<LockResult> {
    this.requireLeader();
    return this.propose({ type: 'openSession', id: this.nextSessionId(), ttlMs });
  }

  /** Runs `fn` on the state machine at a linearizable point (after a Raft read index). */
  async read<T>(fn: (sm: LockStateMachine) => T): Promise<T> {
    this.requireLeader();
    await this.node.read();
    return fn(this.sm);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.expireTimer?.cancel();
    await this.node.stop();
    await this.transport.close();
    await this.socket.close();
  }

  // ---- internals ----

  private requireLeader(): void {
    if (this.stopped) throw new TesseraError('SHUTTING_DOWN', `lock replica ${this.id} stopped`);
    const s = this.node.status();
    if (s.role !== 'leader') {
      throw new TesseraError('NOT_LEADER', `lock replica ${this.id} is not the leader`, {
        reason: 'not-leader',
        leaderHint: s.leader,
      });
    }
  }

  private nextSessionId(): number {
    const term = this.node.status().term;
    if (term !== this.sessionTerm) {
      this.sessionTerm = term;
      this.sessionCount = 0;
    }
    this.sessionCount++;
    const id = term * SESSIONS_PER_TERM + this.sessionCount;
    if (this.sessionCount < SESSIONS_PER_TERM && Number.isSafeInteger(id)) return id;
    // Out of counter space: a random id (a collision only fails that openSession).
    return 1 + this.opts.env.random.int(2 ** 31) * 2 ** 20 + this.opts.env.random.int(2 ** 20);
  }

  private apply(e: Entry): void {
    if (e.kind !== 'normal') return;
    const out = this.sm.apply(e.index, decodeCommand(e.data));
    this.results.set(e.index, out.result);
    if (this.results.size > RESULTS_KEPT_MAX) {
      const oldest = this.results.keys().next();
      if (oldest.done !== true) this.results.delete(oldest.value);
    }
    for (const l of this.appliedListeners)
      l({ type: 'applied', index: e.index, events: out.events });
  }

  private restore(s: Snapshot): void {
    this.sm = LockStateMachine.restore(s.data);
    this.results.clear();
    const index = this.sm.lastApplied;
    for (const l of this.appliedListeners) l({ type: 'restored', index });
  }

  private maybeExpire(): void {
    if (this.expiring || !this.isLeader) return;
    const now = Math.floor(this.opts.env.clock.nowMicros() / 1000);
    if (this.sm.sessionsExpiredAt(now).length === 0) return;
    this.expiring = true;
    this.propose({ type: 'expireSessions' }).then(
      () => (this.expiring = false),
      () => {
        // Lost leadership or timed out: the next round tries again.
        this.expiring = false;
      },
    );
  }
}
