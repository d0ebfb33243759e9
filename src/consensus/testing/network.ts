/**
 * An in-memory cluster for Raft tests (etcd's `network`, plus a crash-safe "disk").
 *
 * Each node is a Raft, a disk holding exactly what its Ready asked to persist, and a toy
 * state machine (a running digest of applied entries). Messages wait in one in-flight pool
 * and are delivered in FIFO order (`stabilize`) or picked at random (`deliverRandom`, which
 * reorders); `cut`/`isolate`/`partition` and `hook` drop (or rewrite) them. `crash` rebuilds a node from
 * its disk alone, losing all volatile state. A `Checker` (checkers.ts) watches every step.
 */
import { assert } from '../../util/assert.js';
import { Prng } from '../../util/prng.js';
import { Raft } from '../raft.js';
import type { RaftOptions } from '../raft.js';
import type { Entry, HardState, Message, NodeId, Ready, Snapshot } from '../types.js';

export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | undefined;
}

/** The toy state machine: applied index, a digest chaining every applied entry, the data. */
export interface AppState {
  index: number;
  digest: number;
  /** Data of applied normal entries since the last restore, as text. */
  applied: string[];
}

export interface Observer {
  /** Called after a node changed state (stepped, ticked, proposed, restarted). */
  afterStep(net: Network, id: NodeId): void;
  /** Called as a node applies an entry; `state` is the app state after it. */
  onApply(net: Network, id: NodeId, state: AppState): void;
}

export type RaftTuning = Omit<RaftOptions, 'id' | 'voters' | 'storage' | 'random' | 'applied'>;

/** Bound on messages processed by one `stabilize`, so a livelock fails instead of hanging. */
export const STABILIZE_STEPS_MAX = 100_000;

export class Network {
  readonly nodes = new Map<NodeId, Raft>();
  readonly disks = new Map<NodeId, Disk>();
  readonly apps = new Map<NodeId, AppState>();
  /** Read states each node's Ready handed out, as `ctx@index`. */
  readonly reads = new Map<NodeId, string[]>();
  readonly rng: Prng;
  inflight: Message[] = [];
  /** Messages delivered so far (for tests that look at traffic). */
  readonly delivered: Message[] = [];
  dropRate = 0;
  duplicateRate = 0;
  recordDelivered = false;
  /** Sees every message as it is sent: return it (or a rewritten one), or undefined to drop. */
  hook: ((m: Message) => Message | undefined) | undefined;
  observer: Observer | undefined;
  private readonly cuts = new Set<string>();
  private readonly voters = new Map<NodeId, readonly NodeId[]>();

  constructor(
    ids: readonly NodeId[],
    seed = 1,
    private readonly tuning: RaftTuning = {},
  ) {
    this.rng = new Prng(seed);
    for (const id of ids) this.addNode(id, ids);
  }

  /** Starts a brand-new node with an empty disk; `voters` is its initial config. */
  addNode(id: NodeId, voters: readonly NodeId[]): void {
    assert(!this.nodes.has(id), `node ${id} exists`);
    this.voters.set(id, voters);
    this.disks.set(id, {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [],
      snapshot: undefined,
    });
    this.start(id);
  }

  /** Restarts `id` from its disk only; its volatile state and state machine are lost. */
  crash(id: NodeId): void {
    this.start(id);
  }

  private start(id: NodeId): void {
    const disk = this.disks.get(id)!;
    const raft = new Raft({
      ...this.tuning,
      id,
      voters: this.voters.get(id)!,
      storage: { hardState: disk.hardState, entries: [...disk.entries], snapshot: disk.snapshot },
      random: this.rng.fork(),
    });
    this.nodes.set(id, raft);
    this.apps.set(id, restoreApp(disk.snapshot));
    this.observer?.afterStep(this, id);
  }

  raft(id: NodeId): Raft {
    const r = this.nodes.get(id);
    assert(r !== undefined, `no node ${id}`);
    return r;
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  // ---- Driving ----

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.raft(id).tick();
      this.afterInput(id);
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.ids) this.tick(id);
  }

  /** Ticks everyone and delivers everything, `rounds` times. */
  run(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      this.tickAll();
      this.stabilize();
    }
  }

  /** Lets `id` run an election now and delivers all traffic. */
  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.afterInput(id);
    this.stabilize();
  }

  /** Calls `fn` on node `id` (propose, readIndex, ...) and processes what it produced. */
  act<T>(id: NodeId, fn: (raft: Raft) => T): T {
    const out = fn(this.raft(id));
    this.afterInput(id);
    return out;
  }

  /** Proposes text at `id`; true when accepted (it was the leader). */
  propose(id: NodeId, text: string): boolean {
    return this.act(id, (r) => r.propose(new TextEncoder().encode(text))).ok;
  }

  /** Delivers messages in FIFO order until none are left. */
  stabilize(): void {
    for (let steps = 0; this.inflight.length > 0; steps++) {
      assert(steps < STABILIZE_STEPS_MAX, 'network did not stabilize');
      this.deliver(this.inflight.shift()!);
    }
  }

  /** Delivers one message picked at random (reordering). False when none is in flight. */
  deliverRandom(): boolean {
    if (this.inflight.length === 0) return false;
    const i = this.rng.int(this.inflight.length);
    const m = this.inflight[i]!;
    this.inflight[i] = this.inflight[this.inflight.length - 1]!;
    this.inflight.pop();
    this.deliver(m);
    return true;
  }

  private deliver(m: Message): void {
    if (!this.nodes.has(m.to) || this.isCut(m.from, m.to)) return;
    if (this.recordDelivered) this.delivered.push(m);
    this.raft(m.to).step(m);
    this.afterInput(m.to);
  }

  /** Snapshots `id`'s state machine at its applied index and lets Raft compact up to it. */
  /**
   * Snapshots `id`'s application and compacts its log; with `duringCapture`, through
   * Raft.compactCapturing, calling it while the state is captured.
   */
  compact(id: NodeId, duringCapture?: () => void): boolean {
    const app = this.apps.get(id)!;
    const raft = this.raft(id);
    if (app.index < raft.status().firstIndex) return false;
    const data = encodeApp(app);
    const meta =
      duringCapture === undefined
        ? raft.compact(app.index, data)
        : raft.compactCapturing(app.index, () => {
            duringCapture();
            return data;
          });
    const disk = this.disks.get(id)!;
    disk.snapshot = { meta, data };
    disk.entries = disk.entries.filter((e) => e.index > meta.index);
    return true;
  }

  // ---- Faults ----

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}>${b}`);
    this.cuts.add(`${b}>${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  /** Only nodes in the same group can talk. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const a of this.ids) {
      for (const b of this.ids) {
        const together = groups.some((g) => g.includes(a) && g.includes(b));
        if (!together && a !== b) this.cut(a, b);
      }
    }
  }

  heal(): void {
    this.cuts.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  // ---- Queries ----

  /** The leader with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const [id, r] of this.nodes) {
      const s = r.status();
      if (s.role === 'leader' && (!best || s.term > best.term)) best = { id, term: s.term };
    }
    return best?.id;
  }

  // ---- Ready processing: persist, then send, then apply, then advance ----

  private afterInput(id: NodeId): void {
    const raft = this.raft(id);
    while (raft.hasReady()) this.handleReady(id, raft, raft.ready());
    this.observer?.afterStep(this, id);
  }

  private handleReady(id: NodeId, raft: Raft, rd: Ready): void {
    const disk = this.disks.get(id)!;
    const app = this.apps.get(id)!;
    if (rd.snapshot) {
      disk.snapshot = rd.snapshot;
      disk.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) disk.hardState = rd.hardState;
    for (const m of rd.messages) this.send(m);
    for (const r of rd.readStates) {
      this.reads.set(id, [...(this.reads.get(id) ?? []), `${r.ctx}@${r.index}`]);
    }
    if (rd.snapshot) {
      const restored = restoreApp(rd.snapshot);
      app.index = restored.index;
      app.digest = restored.digest;
      app.applied = [];
    }
    for (const e of rd.committedEntries) {
      assert(e.index === app.index + 1, `node ${id} applies ${e.index} after ${app.index}`);
      app.index = e.index;
      app.digest = chain(app.digest, e);
      if (e.kind === 'normal') app.applied.push(new TextDecoder().decode(e.data));
      this.observer?.onApply(this, id, app);
    }
    raft.advance(rd);
  }

  private send(sent: Message): void {
    const m = this.hook ? this.hook(sent) : sent;
    if (m === undefined) return;
    if (this.dropRate > 0 && this.rng.chance(this.dropRate)) return;
    this.inflight.push(m);
    if (this.duplicateRate > 0 && this.rng.chance(this.duplicateRate)) this.inflight.push(m);
  }
}

/** FNV-1a over the previous digest, the entry's term and index, and its data. */
function chain(digest: number, e: Entry): number {
  let h = (digest ^ 0x811c9dc5) >>> 0;
  const mix = (byte: number) => {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  };
  for (const n of [e.term, e.index]) for (let s = 0; s < 32; s += 8) mix((n >>> s) & 0xff);
  for (const b of e.data) mix(b);
  return h;
}

function encodeApp(app: AppState): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, app.index);
  view.setUint32(4, app.digest);
  return out;
}

function restoreApp(snapshot: Snapshot | undefined): AppState {
  if (!snapshot) return { index: 0, digest: 0, applied: [] };
  const view = new DataView(snapshot.data.buffer, snapshot.data.byteOffset, 8);
  assert(view.getUint32(0) === snapshot.meta.index, 'snapshot data and meta disagree');
  return { index: view.getUint32(0), digest: view.getUint32(4), applied: [] };
}
