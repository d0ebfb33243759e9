/**
 * The storage scenario: crash consistency of one LSM Store (src/storage) on one simulated disk.
 *
 * One node runs a Store with tiny sizes (8–32 KiB memtables, 4–16 KiB tables, ~32 KiB level 1,
 * a 1 MiB memory budget), so flushes, compactions and WAL switches happen all the time. Several
 * writers apply WriteBatches of 1–5 cells over a small key space — puts, deletes of every kind,
 * multi-row batches — while a maintenance task flushes, compacts everything, and reads at
 * snapshots (some held across flushes and compactions). The node is crashed at random virtual
 * times, 3–6 lifetimes per seed, sometimes again during recovery, and in some seeds the disk
 * fails reads, writes and fsyncs with IO_ERROR; the WAL is synced 'always', or on an 'interval'
 * with some writes asking for `{ sync: true }`.
 *
 * Every batch carries one marker cell (row `~m<id % 8>`, family `m`, qualifier = its id) and
 * the history records, per batch, its lifetime, its place in the call order (which the store's
 * FIFO writer queue makes the commit order) and whether write() resolved, rejected or was still
 * in flight at the crash. A read at a snapshot shows which batches are there (their markers);
 * the checkers outside the node then require, after every reopen and at every live read:
 *
 * 1. every acknowledged batch is there — acknowledged-durable, that is: resolved with the WAL
 *    synced 'always', resolved with `{ sync: true }` under 'interval', resolved before a clean
 *    close(), or (under 'always') seen by an earlier reader; a batch resolved before a live
 *    read is visible to it; a batch seen (or missed) by one reopen stays so for good;
 * 2. the batches there are, per lifetime, a prefix of the commit order (the WAL is one ordered
 *    log: a later batch cannot survive an earlier one), and none was rejected before the read;
 * 3. every row — via get() at the snapshot, a full scan() and a ranged scan() — shows exactly
 *    the cells that the reference model (src/storage/testing/model.ts) computes from the
 *    surviving batches in commit order: a batch is all or nothing, deletes mask what they
 *    should, nothing is resurrected or invented;
 * 4. the store opens after every crash (CORRUPTION is never allowed; IO_ERROR only while the
 *    disk injects faults), every table it lists is readable (the full scan), and once the
 *    faults are healed it opens, serves, and after a clean close() keeps every acknowledged
 *    batch whatever the WAL mode;
 * 5. close() settles (a hang is a violation), no operation fails with anything but IO_ERROR
 *    under faults or SHUTTING_DOWN once closing, and no promise of the store rejects unhandled
 *    (which Node answers by ending the process).
 *
 * Timestamps are the node's wall clock (in whole milliseconds, ±2 ms), so no write ever carries
 * a timestamp older than now − tombstoneGrace (100–300 ms): the client's side of the tombstone
 * contract (compaction-filter.ts, rule c3) — as long as no write waits that long in the store,
 * which the summary's "slowest ack" shows. The family `v` keeps 2 versions and never sees a
 * DeleteVersion, whose interplay with dropped versions is documented as differing from the
 * model (compaction-filter.ts, rule c2 iv).
 */
import type { Env, File, FileSystem, OpenOptions } from '../../env/index.js';
import { defaultFamilyOptions, type FamilyOptions } from '../../storage/family-options.js';
import { Kind, type CellCoordinates } from '../../storage/key.js';
import type { StoreOptions } from '../../storage/options.js';
import type { Cell } from '../../storage/row-resolver.js';
import { Store, type RowResult, type Snapshot } from '../../storage/store.js';
import { ModelStore, type ModelWrite } from '../../storage/testing/model.js';
import { WriteBatch } from '../../storage/write-batch.js';
import { compareBytes, equalBytes, fromUtf8, toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError, toTesseraError } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';

const NODE = 'db';
const DIR = 'db';
const markerRowsCount = 8;
/** Model sequence numbers per batch: at most 5 cells and the marker. */
const seqsPerBatch = 8;
const markerFamily = utf8('m');
/** Data families: `f` and `g` keep every version, `v` keeps two. */
const dataFamilies = ['f', 'g', 'v'] as const;
const qualifiers = ['a', 'b', 'c', 'd'].map(utf8);
const versionsFamily = 'v';
const versionsFamilyMax = 2;
const lifetimesMin = 3;
const lifetimesMax = 6;
const lifetimeMsMin = 20;
const lifetimeMsMax = 200;
/** A crash during recovery lands this many ms after the restart, at most. */
const recoveryCrashMsMax = 12;
/** Virtual time the final open (faults healed) may take. */
const finalOpenTimeoutMs = 10_000;
/** How long close() may take once a lifetime's time is up. */
const closeTimeoutMs = 2_000;
const violationsMax = 20;
const writerRejectionsMax = 5;

const emptyBytes = new Uint8Array(0);
const versionsOptions: FamilyOptions = Object.freeze({
  maxVersions: versionsFamilyMax,
  ttlMicros: undefined,
});
const vByte = utf8(versionsFamily)[0]!;

/** Per-family retention: `v` keeps two versions, every other family all of them. */
export function familyLookup(family: Uint8Array): FamilyOptions {
  return family.length === 1 && family[0] === vByte ? versionsOptions : defaultFamilyOptions;
}

// ---------------------------------------------------------------------------------------------
// The history

export type OpKind = 'put' | 'deleteVersion' | 'deleteColumn' | 'deleteFamily' | 'deleteRow';

/** One cell of a batch; byte fields are shared constants or fresh arrays, never mutated. */
export interface Op {
  readonly kind: OpKind;
  readonly row: Uint8Array;
  readonly family: Uint8Array;
  readonly qualifier: Uint8Array;
  readonly ts: number;
  readonly value: Uint8Array;
}

export interface BatchRecord {
  /** Global call order: ids increase with every write() call, across lifetimes. */
  readonly id: number;
  /** The node incarnation that issued it. */
  readonly epoch: number;
  readonly ops: readonly Op[];
  readonly marker: Op;
  readonly sync: boolean;
  readonly calledMicros: number;
  status: 'pending' | 'acked' | 'rejected';
  settledMicros?: number;
  /** The checker's tick at which write() settled (orders settlements against snapshots). */
  settledTick?: number;
  errorCode?: string;
  /** Why the batch must be present in every read from checker tick `mustTick` on. */
  mustReason?: string;
  mustTick?: number;
  /** Decided by the first read after its lifetime ended. */
  fate?: 'survived' | 'lost';
  /** The batch's cells (marker last) as the model's records, by row. */
  readonly modelWrites: readonly { readonly row: string; readonly write: ModelWrite }[];
}

export interface Observation {
  readonly kind: 'open' | 'live' | 'final';
  /** The incarnation that read. */
  readonly epoch: number;
  /** The checker's tick when the snapshot was taken. */
  readonly tick: number;
  /** Batches issued before the snapshot was taken: ids 0 .. issuedBefore-1. */
  readonly issuedBefore: number;
  /** get() of every data and marker row at the snapshot. */
  readonly gets: ReadonlyMap<string, readonly Cell[]>;
  /** A full scan() at the snapshot. */
  readonly scanned: readonly RowResult[];
  /** A ranged scan() at the snapshot, with what it asked for. */
  readonly ranged?: {
    readonly startRow?: string;
    readonly stopRow?: string;
    readonly limit?: number;
    readonly rows: readonly RowResult[];
  };
}

/** Names a batch for a violation message. */
function describeBatch(b: BatchRecord): string {
  const state =
    b.status === 'pending'
      ? 'in flight at the crash'
      : b.status === 'acked'
        ? `acknowledged at t=${b.settledMicros}µs`
        : `rejected ${b.errorCode ?? ''} at t=${b.settledMicros}µs`;
  const sync = b.sync ? ' sync' : '';
  return `batch ${b.id} (lifetime ${b.epoch}, ${b.ops.length} cells${sync}, issued t=${b.calledMicros}µs, ${state})`;
}

function cellText(c: Cell): string {
  const v = c.value.length <= 6 ? toHex(c.value) : `${toHex(c.value.subarray(0, 6))}…`;
  return `${fromUtf8(c.family)}:${fromUtf8(c.qualifier)}@${c.timestamp}=${v}/${c.value.length}B`;
}

function sameCells(a: readonly Cell[], b: readonly Cell[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.timestamp !== y.timestamp ||
      !equalBytes(x.row, y.row) ||
      !equalBytes(x.family, y.family) ||
      !equalBytes(x.qualifier, y.qualifier) ||
      !equalBytes(x.value, y.value)
    ) {
      return false;
    }
  }
  return true;
}

function markerRowName(id: number): string {
  return `~m${id % markerRowsCount}`;
}

function markerQualifier(id: number): string {
  return String(id).padStart(8, '0');
}

function markerValue(id: number): Uint8Array {
  return utf8(`batch-${id}`);
}

function coordinates(op: Op): CellCoordinates {
  const kind = {
    put: Kind.Put,
    deleteVersion: Kind.DeleteVersion,
    deleteColumn: Kind.DeleteColumn,
    deleteFamily: Kind.DeleteFamily,
    deleteRow: Kind.DeleteRow,
  }[op.kind];
  // Row tombstones use the empty family, family tombstones the empty qualifier (key.ts).
  const family = op.kind === 'deleteRow' ? emptyBytes : op.family;
  const qualifier =
    op.kind === 'deleteRow' || op.kind === 'deleteFamily' ? emptyBytes : op.qualifier;
  return { row: op.row, family, qualifier, timestamp: op.ts, kind };
}

function addToBatch(wb: WriteBatch, op: Op): void {
  switch (op.kind) {
    case 'put':
      wb.put(op.row, op.family, op.qualifier, op.ts, op.value);
      return;
    case 'deleteVersion':
      wb.deleteVersion(op.row, op.family, op.qualifier, op.ts);
      return;
    case 'deleteColumn':
      wb.deleteColumn(op.row, op.family, op.qualifier, op.ts);
      return;
    case 'deleteFamily':
      wb.deleteFamily(op.row, op.family, op.ts);
      return;
    case 'deleteRow':
      wb.deleteRow(op.row, op.ts);
      return;
  }
}

/**
 * The checker: the history of every batch, and the properties each read must show (see the
 * file comment). Lives outside the node; the node hands it what it read.
 */
export class StorageChecker {
  readonly batches: BatchRecord[] = [];
  readonly violations: string[] = [];
  readonly markerRows: readonly string[];
  observations = 0;
  private ticks = 0;
  private readonly reported = new Set<string>();

  constructor(
    readonly walMode: 'always' | 'interval',
    readonly dataRows: readonly string[],
  ) {
    this.markerRows = Array.from({ length: markerRowsCount }, (_, i) => `~m${i}`);
  }

  /** Every row a read looks at: data rows, then marker rows. */
  get allRows(): string[] {
    return [...this.dataRows, ...this.markerRows];
  }

  /**
   * Records a violation. With `where`, a message already reported (from an earlier read: a
   * batch lost for good shows in every read after) is not repeated.
   */
  violation(message: string, where?: string): void {
    if (where !== undefined) {
      if (this.reported.has(message)) return;
      this.reported.add(message);
      message = `${where}: ${message}`;
    }
    if (this.violations.length < violationsMax) this.violations.push(message);
    else if (this.violations.length === violationsMax) this.violations.push('… more violations');
  }

  tick(): number {
    return ++this.ticks;
  }

  /** Records a write() call; the batch's marker is added here. */
  register(epoch: number, ops: readonly Op[], sync: boolean, nowMicros: number): BatchRecord {
    const id = this.batches.length;
    const marker: Op = {
      kind: 'put',
      row: utf8(markerRowName(id)),
      family: markerFamily,
      qualifier: utf8(markerQualifier(id)),
      ts: ops[0]?.ts ?? 1,
      value: markerValue(id),
    };
    // Model sequence numbers: only their order matters (shadowing among equal cells), and the
    // store's order is the call order of batches, then the order of cells within one.
    const scratch = new ModelStore();
    [...ops, marker].forEach((op, i) =>
      scratch.apply(coordinates(op), id * seqsPerBatch + i + 1, op.value),
    );
    const b: BatchRecord = {
      id,
      epoch,
      ops,
      marker,
      sync,
      calledMicros: nowMicros,
      status: 'pending',
      modelWrites: scratch.writes.map((write) => ({ row: fromUtf8(write.row), write })),
    };
    this.batches.push(b);
    return b;
  }

  /** write() resolved (durable per the WAL mode) or rejected. */
  settle(b: BatchRecord, nowMicros: number, error?: unknown): void {
    if (b.status !== 'pending') {
      this.violation(`${describeBatch(b)} settled twice`);
      return;
    }
    b.settledMicros = nowMicros;
    b.settledTick = this.tick();
    if (error === undefined) {
      b.status = 'acked';
      if (this.walMode === 'always') this.must(b, 'acknowledged with the WAL synced always');
      else if (b.sync) this.must(b, 'acknowledged with { sync: true }');
    } else {
      b.status = 'rejected';
      b.errorCode = toTesseraError(error).code;
    }
  }

  /** close() resolved in `epoch`: every batch acknowledged before it is durable, in any mode. */
  closedCleanly(epoch: number): void {
    for (let i = this.batches.length - 1; i >= 0; i--) {
      const b = this.batches[i]!;
      if (b.epoch < epoch) break;
      if (b.epoch === epoch && b.status === 'acked') this.must(b, 'acknowledged before close()');
    }
  }

  /** From now on every read must show `b`. */
  private must(b: BatchRecord, reason: string, tick = this.tick()): void {
    if (b.mustReason !== undefined) return;
    b.mustReason = reason;
    b.mustTick = tick;
  }

  /** Checks one read (see the file comment for the properties). */
  observe(o: Observation): void {
    this.observations++;
    const where = `${o.kind} read in lifetime ${o.epoch}`;
    const present = this.presentBatches(o, where);

    const byEpoch = new Map<number, BatchRecord[]>();
    for (let id = 0; id < o.issuedBefore; id++) {
      const b = this.batches[id]!;
      const here = present.has(id);
      if (b.fate === 'survived' && !here) {
        this.violation(`${describeBatch(b)} was there after an earlier reopen, now gone`, where);
      } else if (b.fate === 'lost' && here) {
        this.violation(`${describeBatch(b)} was missing after an earlier reopen, now back`, where);
      } else if (!here && b.mustReason !== undefined && b.mustTick! < o.tick) {
        this.violation(`${describeBatch(b)} is missing; it must be there: ${b.mustReason}`, where);
      } else if (
        !here &&
        b.epoch === o.epoch &&
        b.status === 'acked' &&
        b.settledTick! < o.tick &&
        b.mustReason === undefined
      ) {
        this.violation(`${describeBatch(b)} resolved before the snapshot, not visible`, where);
      }
      if (b.epoch === o.epoch && b.settledTick !== undefined && b.settledTick < o.tick) {
        if (here && b.status === 'rejected') {
          this.violation(`${describeBatch(b)} was rejected before the snapshot, visible`, where);
        }
      }
      let list = byEpoch.get(b.epoch);
      if (list === undefined) byEpoch.set(b.epoch, (list = []));
      list.push(b);
    }

    // The WAL is one ordered log per lifetime: the survivors are a prefix of the call order
    // (the store's writer queue is FIFO). A rejected batch may never have been committed (the
    // store refused it before writing, and may go on after a failure that wrote nothing), so
    // its absence is no gap; when present it was committed, and must follow no gap either.
    for (const [epoch, list] of byEpoch) {
      let gap: BatchRecord | undefined;
      for (const b of list) {
        if (!present.has(b.id)) {
          if (b.status !== 'rejected') gap ??= b;
        } else if (gap !== undefined) {
          this.violation(
            `survivors of lifetime ${epoch} are not a prefix of the commit order: ` +
              `${describeBatch(b)} is there, the earlier ${describeBatch(gap)} is not`,
            where,
          );
          break;
        }
      }
    }

    for (let id = 0; id < o.issuedBefore; id++) {
      const b = this.batches[id]!;
      const here = present.has(id);
      if (b.epoch < o.epoch) b.fate ??= here ? 'survived' : 'lost';
      else if (here && this.walMode === 'always') {
        this.must(b, `seen by a ${o.kind} read in lifetime ${o.epoch} (WAL synced always)`, o.tick);
      }
    }

    this.compareWithModel(o, present, where);
  }

  /** The batches whose marker the read shows; a marker of no issued batch is a violation. */
  private presentBatches(o: Observation, where: string): Set<number> {
    const present = new Set<number>();
    for (const row of this.markerRows) {
      for (const c of o.gets.get(row) ?? []) {
        const q = fromUtf8(c.qualifier);
        const id = Number(q);
        const b =
          Number.isSafeInteger(id) && id >= 0 && id < o.issuedBefore ? this.batches[id] : undefined;
        if (
          b === undefined ||
          markerQualifier(id) !== q ||
          markerRowName(id) !== row ||
          !equalBytes(c.family, markerFamily) ||
          c.timestamp !== b.marker.ts ||
          !equalBytes(c.value, b.marker.value)
        ) {
          this.violation(`row ${row} shows ${cellText(c)}, the marker of no batch issued`, where);
          continue;
        }
        present.add(id);
      }
    }
    return present;
  }

  /** Every row, every way it was read, equals the model of the surviving batches. */
  private compareWithModel(o: Observation, present: ReadonlySet<number>, where: string): void {
    // One model per row, of the surviving batches' records (ModelStore.read looks at one row).
    const models = new Map<string, ModelStore>();
    for (let id = 0; id < o.issuedBefore; id++) {
      if (!present.has(id)) continue;
      for (const { row, write } of this.batches[id]!.modelWrites) {
        let m = models.get(row);
        if (m === undefined) models.set(row, (m = new ModelStore()));
        m.writes.push(write);
      }
    }
    const readOptions = { snapshotSeq: Number.MAX_SAFE_INTEGER, now: 0 };
    const expected = new Map<string, Cell[]>();
    for (const row of this.allRows) {
      expected.set(row, models.get(row)?.read(utf8(row), readOptions, familyLookup) ?? []);
    }

    let reported = 0;
    const report = (what: string, row: string, want: readonly Cell[], got: readonly Cell[]) => {
      if (reported++ >= 3) return;
      this.violation(`${what} of row ${row} ${this.diff(row, want, got, present, o)}`, where);
    };
    for (const row of this.allRows) {
      const got = o.gets.get(row);
      if (got !== undefined && !sameCells(expected.get(row)!, got)) {
        report('get()', row, expected.get(row)!, got);
      }
    }
    const rowsWithCells = this.allRows
      .map((row) => ({ row, bytes: utf8(row) }))
      .filter((r) => expected.get(r.row)!.length > 0)
      .sort((a, b) => compareBytes(a.bytes, b.bytes));
    const checkScan = (what: string, want: typeof rowsWithCells, got: readonly RowResult[]) => {
      const gotNames = got.map((r) => fromUtf8(r.row));
      const wantNames = want.map((r) => r.row);
      if (gotNames.join() !== wantNames.join()) {
        this.violation(
          `${what} returned rows [${gotNames.join(' ')}], expected [${wantNames.join(' ')}]`,
          where,
        );
      }
      for (const r of got) {
        const name = fromUtf8(r.row);
        const want = expected.get(name);
        if (want !== undefined && want.length > 0 && !sameCells(want, r.cells)) {
          report(what, name, want, r.cells);
        }
      }
    };
    checkScan('scan()', rowsWithCells, o.scanned);
    if (o.ranged !== undefined) {
      const { startRow, stopRow, limit } = o.ranged;
      const lo = startRow === undefined ? undefined : utf8(startRow);
      const hi = stopRow === undefined ? undefined : utf8(stopRow);
      const want = rowsWithCells
        .filter((r) => lo === undefined || compareBytes(r.bytes, lo) >= 0)
        .filter((r) => hi === undefined || compareBytes(r.bytes, hi) < 0)
        .slice(0, limit ?? Infinity);
      checkScan(
        `scan(${startRow ?? ''}..${stopRow ?? ''} limit ${limit ?? '-'})`,
        want,
        o.ranged.rows,
      );
    }
  }

  /** What differs between the expected and the read cells, and which batches wrote them. */
  private diff(
    row: string,
    want: readonly Cell[],
    got: readonly Cell[],
    present: ReadonlySet<number>,
    o: Observation,
  ): string {
    const key = (c: Cell) => cellText(c);
    const wantKeys = new Set(want.map(key));
    const gotKeys = new Set(got.map(key));
    const missing = want.filter((c) => !gotKeys.has(key(c)));
    const extra = got.filter((c) => !wantKeys.has(key(c)));
    const writers = (c: Cell): string => {
      const ids: string[] = [];
      for (let id = 0; id < o.issuedBefore && ids.length < 3; id++) {
        const b = this.batches[id]!;
        const hit = [...b.ops, b.marker].some(
          (op) =>
            op.kind === 'put' &&
            op.ts === c.timestamp &&
            equalBytes(op.row, c.row) &&
            equalBytes(op.family, c.family) &&
            equalBytes(op.qualifier, c.qualifier) &&
            equalBytes(op.value, c.value),
        );
        if (hit) ids.push(`${describeBatch(b)}${present.has(id) ? '' : ' [counted as not there]'}`);
      }
      return ids.length === 0 ? 'written by no batch' : `written by ${ids.join('; ')}`;
    };
    const parts = [`expected ${want.length} cells, read ${got.length}`];
    if (missing.length > 0)
      parts.push(`missing ${cellText(missing[0]!)} (${writers(missing[0]!)})`);
    if (extra.length > 0) parts.push(`unexpected ${cellText(extra[0]!)} (${writers(extra[0]!)})`);
    if (missing.length === 0 && extra.length === 0) parts.push('same cells in another order');
    return `${parts.join('; ')} [row ${row}]`;
  }
}

// ---------------------------------------------------------------------------------------------
// The scenario

/**
 * Bugs a test can plant to prove the checkers catch them (without touching src/storage):
 * `ackBeforeWalSync` gives the store a file system whose fsync of WAL files does nothing (and
 * which ignores their O_DSYNC), so writes are acknowledged before they are durable;
 * `splitBatches` writes each batch's cells and its marker as two writes, so a crash or a reader
 * can see half a batch.
 */
export interface StorageScenarioBugs {
  readonly ackBeforeWalSync?: boolean;
  readonly splitBatches?: boolean;
}

export function makeStorageScenario(bugs: StorageScenarioBugs = {}): Scenario {
  return {
    name: 'storage',
    description:
      'one LSM store crashed (also in recovery) with disk I/O errors; acknowledged batches survive, atomic, in commit order',
    run: (ctx) => runStorageScenario(ctx, bugs),
  };
}

export const storageScenario: Scenario = makeStorageScenario();

interface Config {
  readonly storeOptions: StoreOptions;
  readonly walMode: 'always' | 'interval';
  readonly rows: readonly string[];
  readonly writers: number;
  readonly lifetimes: number;
  readonly ioFaults: boolean;
}

/** What the scenario tells the next incarnation to do. */
interface Plan {
  /** Run writers and maintenance (false: open, read, stop). */
  readonly workload: boolean;
  /** Close the store cleanly this long after opening. */
  readonly closeAfterMs: number | undefined;
  /** The disk injects faults in this incarnation: IO_ERROR is allowed. */
  readonly faulty: boolean;
}

/** One incarnation, as the scenario sees it. */
interface Life {
  readonly epoch: number;
  readonly plan: Plan;
  store: Store | undefined;
  opened: boolean;
  openFailed: string | undefined;
  observed: number;
  /** close() was called (at plan.closeAfterMs); it settled; it resolved. */
  closeCalled: boolean;
  closeSettled: boolean;
  closed: boolean;
  stopping: boolean;
}

interface Counters {
  crashes: number;
  recoveryCrashes: number;
  cleanCloses: number;
  openFailures: number;
  ioErrors: number;
  flushes: number;
  compactions: number;
  trivialMoves: number;
  discarded: number;
  maxAckMicros: number;
  /** The final reopen's file set (levelSummary), for the summary. */
  finalTables: string;
}

function drawConfig(rng: Prng): Config {
  const interval = rng.chance(0.3);
  const l0CompactionTrigger = rng.between(2, 4);
  const l0SlowdownTrigger = l0CompactionTrigger + rng.between(0, 4);
  const l0StopTrigger = l0SlowdownTrigger + rng.between(1, 4);
  const rowsCount = rng.between(4, 16);
  const storeOptions: StoreOptions = {
    dir: DIR,
    wal: interval ? { sync: 'interval', intervalMs: rng.between(2, 20) } : { sync: 'always' },
    memoryBudgetBytes: 1024 * 1024,
    memtableBytes: rng.between(8, 32) * 1024,
    frozenMemtablesMax: rng.between(1, 3),
    blockBytes: rng.pick([256, 512, 1024, 4096]),
    restartInterval: rng.pick([1, 4, 16]),
    bloomBitsPerKey: rng.pick([0, 10]),
    compression: rng.pick(['none', 'snappy'] as const),
    compactionStyle: rng.chance(0.2) ? 'tiered' : 'leveled',
    l0CompactionTrigger,
    l0SlowdownTrigger,
    l0StopTrigger,
    levelBaseBytes: rng.between(24, 48) * 1024,
    levelMultiplier: rng.pick([2, 4, 10]),
    targetFileBytes: rng.between(4, 16) * 1024,
    tierMergeWidth: rng.between(2, 4),
    tombstoneGraceMicros: rng.between(100, 300) * 1000,
    familyOptions: familyLookup,
    openTablesMax: rng.between(4, 32),
  };
  return {
    storeOptions,
    walMode: interval ? 'interval' : 'always',
    rows: Array.from({ length: rowsCount }, (_, i) => `r${String(i).padStart(2, '0')}`),
    writers: rng.between(2, 5),
    lifetimes: rng.between(lifetimesMin, lifetimesMax),
    ioFaults: rng.chance(0.3),
  };
}

function describeConfig(c: Config): string {
  const o = c.storeOptions;
  const wal = o.wal!.sync === 'always' ? 'always' : `interval ${o.wal!.intervalMs}ms`;
  return (
    `wal=${wal} memtable=${o.memtableBytes} frozenMax=${o.frozenMemtablesMax} ` +
    `table=${o.targetFileBytes} block=${o.blockBytes} ${o.compactionStyle} ` +
    `l0=${o.l0CompactionTrigger}/${o.l0SlowdownTrigger}/${o.l0StopTrigger} ` +
    `L1=${o.levelBaseBytes} x${o.levelMultiplier} ${o.compression} bloom=${o.bloomBitsPerKey} ` +
    `openTables=${o.openTablesMax} rows=${c.rows.length} writers=${c.writers} ` +
    `lifetimes=${c.lifetimes} ioFaults=${c.ioFaults}`
  );
}

/**
 * A promise of the store that rejects with no handler is a bug Node answers by killing the
 * process (docs/simulator.md: the world cannot see it as a node error). While the scenario
 * runs it is caught here and reported as a violation of this seed instead.
 */
async function runStorageScenario(
  ctx: ScenarioContext,
  bugs: StorageScenarioBugs,
): Promise<ScenarioResult> {
  const sink: { checker?: StorageChecker } = {};
  const onUnhandled = (reason: unknown): void => {
    const e = toTesseraError(reason);
    const at = (reason instanceof Error ? (reason.stack ?? '') : '')
      .split('\n')
      .slice(1, 3)
      .map((l) => l.trim())
      .join(' ');
    sink.checker?.violation(
      `unhandled promise rejection at t=${ctx.world.nowMicros()}µs (Node would end the process): ` +
        `${e.code}: ${e.message} ${at}`,
    );
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    return await runStorageWorld(ctx, bugs, sink);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

async function runStorageWorld(
  { world, log }: ScenarioContext,
  bugs: StorageScenarioBugs,
  sink: { checker?: StorageChecker },
): Promise<ScenarioResult> {
  const rng = world.random.fork();
  const config = drawConfig(rng);
  log(describeConfig(config));
  world.trace(`storage config ${describeConfig(config)}`);
  const checker = new StorageChecker(config.walMode, config.rows);
  sink.checker = checker;
  const counters: Counters = {
    crashes: 0,
    recoveryCrashes: 0,
    cleanCloses: 0,
    openFailures: 0,
    ioErrors: 0,
    flushes: 0,
    compactions: 0,
    trivialMoves: 0,
    discarded: 0,
    maxAckMicros: 0,
    finalTables: 'none',
  };
  const lives: Life[] = [];
  let plan: Plan = { workload: true, closeAfterMs: undefined, faulty: false };
  const node = world.addNode(NODE);
  const current = (): Life | undefined => lives[lives.length - 1];

  const crash = (): void => {
    const life = current();
    if (!node.alive || life === undefined) return;
    world.crash(NODE);
    counters.crashes++;
    if (!life.opened && life.openFailed === undefined) counters.recoveryCrashes++;
    const s = life.store?.stats;
    if (s !== undefined) {
      counters.flushes += s.flushes;
      counters.compactions += s.compactions;
      counters.trivialMoves += s.trivialMoves;
      counters.discarded += s.compactionsDiscarded;
    }
    world.trace(`storage crash lifetime ${life.epoch} opened=${life.opened}`);
  };

  node.start((env) => {
    const life: Life = {
      epoch: node.incarnation,
      plan,
      store: undefined,
      opened: false,
      openFailed: undefined,
      observed: 0,
      closeCalled: false,
      closeSettled: false,
      closed: false,
      stopping: false,
    };
    lives.push(life);
    return nodeMain(bugs.ackBeforeWalSync === true ? lyingWalEnv(env) : env, {
      life,
      config,
      checker,
      counters,
      rng: rng.fork(),
      bugs,
    });
  });

  const setFaults = (faulty: boolean): void => {
    if (!faulty) {
      world.setDiskFaults(NODE, { readErrorRate: 0, writeErrorRate: 0, syncErrorRate: 0 });
      return;
    }
    world.setDiskFaults(NODE, {
      readErrorRate: rng.float() * 0.01,
      writeErrorRate: rng.float() * 0.01,
      syncErrorRate: rng.float() * 0.02,
    });
  };

  // Safety phase: lifetimes ended by crashes, some of them inside recovery, some after a clean
  // close; with I/O faults in some lifetimes of some seeds.
  for (let i = 0; i < config.lifetimes; i++) {
    const durationMs = rng.between(lifetimeMsMin, lifetimeMsMax);
    if (i > 0) {
      // Crashes during recovery, each after a random slice of it.
      while (rng.chance(0.35)) {
        const faulty = config.ioFaults && rng.chance(0.5);
        setFaults(faulty);
        plan = { workload: true, closeAfterMs: undefined, faulty };
        world.restart(NODE);
        await world.runFor(rng.float() * recoveryCrashMsMax);
        crash();
      }
      const faulty = config.ioFaults && rng.chance(0.5);
      setFaults(faulty);
      // Some lifetimes end with close() (more of those with faults: close() must settle after
      // a failure too); the crash then finds everything close() made durable.
      const closeAfterMs = rng.chance(faulty ? 0.5 : 0.2)
        ? rng.between(1, durationMs - 1)
        : undefined;
      plan = { workload: true, closeAfterMs, faulty };
      world.restart(NODE);
    }
    await world.runFor(durationMs);
    const life = current();
    if (life?.closeCalled === true && !life.closeSettled) {
      // close() must finish (resolve, or reject after a failure) — a hang is a bug too.
      const settled = await world.runUntil(() => life.closeSettled, { timeoutMs: closeTimeoutMs });
      if (!settled) {
        checker.violation(
          `lifetime ${life.epoch}: close() has not settled ${closeTimeoutMs}ms after the end ` +
            `of the lifetime (the store hangs)`,
        );
      }
    }
    crash();
  }

  // Liveness and the final check: faults healed, the store must open; after a clean close
  // every acknowledged batch must be there, whatever the WAL mode.
  setFaults(false);
  plan = { workload: true, closeAfterMs: rng.between(10, 60), faulty: false };
  world.restart(NODE);
  const epoch = node.incarnation;
  const finalLife = (): Life | undefined => lives.find((l) => l.epoch === epoch);
  const closedOk = await world.runUntil(() => finalLife()?.closed === true, {
    timeoutMs: finalOpenTimeoutMs,
  });
  if (!closedOk) {
    const l = finalLife();
    const what =
      l?.opened !== true
        ? `did not open (${l?.openFailed ?? 'still recovering'})`
        : l.closeCalled && !l.closeSettled
          ? 'opened, but close() has not settled (the store hangs)'
          : `opened, close() ${l.closeCalled ? 'failed' : 'was not called'}`;
    checker.violation(
      `lifetime ${l?.epoch}, faults healed: within ${finalOpenTimeoutMs}ms the store ${what}`,
    );
  }
  crash();
  plan = { workload: false, closeAfterMs: undefined, faulty: false };
  world.restart(NODE);
  const lastEpoch = node.incarnation;
  const lastLife = (): Life | undefined => lives.find((l) => l.epoch === lastEpoch);
  const observed = await world.runUntil(() => (lastLife()?.observed ?? 0) > 0, {
    timeoutMs: finalOpenTimeoutMs,
  });
  if (!observed) {
    checker.violation(
      `the final reopen did not finish within ${finalOpenTimeoutMs}ms (open error: ${lastLife()?.openFailed ?? 'none'})`,
    );
  }
  crash();

  for (const e of world.nodeErrors) {
    checker.violation(
      `node ${e.node}#${e.incarnation} threw: ${String((e.error as Error)?.message ?? e.error)}`,
    );
  }

  const acked = checker.batches.filter((b) => b.status === 'acked').length;
  const rejected = checker.batches.filter((b) => b.status === 'rejected').length;
  const pending = checker.batches.length - acked - rejected;
  const survivedUnacked = checker.batches.filter(
    (b) => b.status !== 'acked' && b.fate === 'survived',
  ).length;
  const lost = checker.batches.filter((b) => b.fate === 'lost').length;
  const c = counters;
  return {
    violations: checker.violations,
    summary:
      `${checker.batches.length} batches: ${acked} acked, ${rejected} rejected, ${pending} in flight; ` +
      `${lost} lost, ${survivedUnacked} unacked survived; ${lives.length} lifetimes, ` +
      `${c.crashes} crashes (${c.recoveryCrashes} in recovery), ${c.cleanCloses} clean closes, ` +
      `${c.openFailures} failed opens, ${c.ioErrors} I/O errors; ${checker.observations} reads checked; ` +
      `${c.flushes} flushes, ${c.compactions} compactions, ${c.trivialMoves} moves, ` +
      `${c.discarded} discarded; final tables ${c.finalTables}; wal=${config.walMode}, ` +
      `slowest ack ${Math.round(c.maxAckMicros / 1000)}ms`,
  };
}

// ---------------------------------------------------------------------------------------------
// The node

interface NodeContext {
  readonly life: Life;
  readonly config: Config;
  readonly checker: StorageChecker;
  readonly counters: Counters;
  readonly rng: Prng;
  readonly bugs: StorageScenarioBugs;
}

/** The node's process: open (recover), check, then write, flush, compact and read. */
async function nodeMain(env: Env, ctx: NodeContext): Promise<void> {
  const { life, checker, config } = ctx;
  let store: Store;
  try {
    store = await Store.open(env, config.storeOptions);
  } catch (err) {
    const e = toTesseraError(err);
    life.openFailed = `${e.code}: ${e.message}`;
    ctx.counters.openFailures++;
    if (!(e.code === 'IO_ERROR' && life.plan.faulty)) {
      checker.violation(`lifetime ${life.epoch}: Store.open failed: ${life.openFailed}`);
    } else {
      ctx.counters.ioErrors++;
    }
    return;
  }
  life.store = store;
  life.opened = true;
  await observe(env, store, ctx, life.plan.workload ? 'open' : 'final', 0);
  if (!life.plan.workload) {
    const levels = store.levelSummary().filter((l) => l.files > 0);
    ctx.counters.finalTables = levels.map((l) => `L${l.level}:${l.files}`).join(' ') || 'empty';
    return;
  }

  const tasks: Promise<void>[] = [];
  for (let w = 0; w < config.writers; w++) tasks.push(writer(env, store, ctx, ctx.rng.fork()));
  tasks.push(maintenance(env, store, ctx, ctx.rng.fork()));
  if (life.plan.closeAfterMs !== undefined) {
    env.timers.after(life.plan.closeAfterMs, () => {
      // Writers and readers may be busy: close() finishes queued writes, and operations racing
      // it may fail (SHUTTING_DOWN, or IO_ERROR for a read whose file it closed).
      life.stopping = true;
      life.closeCalled = true;
      void closeStore(store, ctx);
    });
  }
  await Promise.all(tasks);
}

async function closeStore(store: Store, ctx: NodeContext): Promise<void> {
  try {
    await store.close();
  } catch (err) {
    expectedError(ctx, 'close()', err);
    return;
  } finally {
    ctx.life.closeSettled = true;
  }
  ctx.life.closed = true;
  ctx.counters.cleanCloses++;
  ctx.checker.closedCleanly(ctx.life.epoch);
}

/**
 * An error from the store is allowed when it is IO_ERROR in a lifetime with disk faults, or
 * SHUTTING_DOWN once the store is closing (and IO_ERROR then for reads and maintenance racing
 * close()); anything else is a violation.
 */
function expectedError(ctx: NodeContext, what: string, err: unknown, racesClose = false): void {
  const e = toTesseraError(err);
  if (e.code === 'IO_ERROR' && ctx.life.plan.faulty) {
    ctx.counters.ioErrors++;
    return;
  }
  if (e.code === 'SHUTTING_DOWN' && ctx.life.stopping) return;
  if (e.code === 'IO_ERROR' && ctx.life.stopping && racesClose) return;
  ctx.checker.violation(`lifetime ${ctx.life.epoch}: ${what} failed with ${e.code}: ${e.message}`);
}

/**
 * Takes a snapshot, optionally holds it while the store goes on, then reads every row with
 * get(), a full scan() and a ranged scan() at it, and hands the result to the checker.
 * False when a read failed (allowed only as an I/O fault).
 */
async function observe(
  env: Env,
  store: Store,
  ctx: NodeContext,
  kind: Observation['kind'],
  holdMs: number,
): Promise<boolean> {
  const { checker, rng } = ctx;
  let snap: Snapshot;
  try {
    snap = store.snapshot();
  } catch (err) {
    expectedError(ctx, 'snapshot()', err);
    return false;
  }
  const tick = checker.tick();
  const issuedBefore = checker.batches.length;
  const rows = checker.allRows;
  const startRow = rng.chance(0.5) ? rng.pick(rows) : undefined;
  const stopRow = rng.chance(0.5) ? rng.pick(rows) : undefined;
  const limit = rng.chance(0.3) ? rng.between(1, 4) : undefined;
  try {
    if (holdMs > 0) await env.timers.sleep(holdMs);
    const gets = new Map<string, Cell[]>();
    for (const row of rows) gets.set(row, await store.get(utf8(row), { snapshot: snap }));
    const scanned: RowResult[] = [];
    for await (const r of store.scan({ snapshot: snap })) scanned.push(r);
    const ranged: RowResult[] = [];
    for await (const r of store.scan({
      snapshot: snap,
      ...(startRow !== undefined && { startRow: utf8(startRow) }),
      ...(stopRow !== undefined && { stopRow: utf8(stopRow) }),
      ...(limit !== undefined && { limit }),
    })) {
      ranged.push(r);
    }
    checker.observe({
      kind,
      epoch: ctx.life.epoch,
      tick,
      issuedBefore,
      gets,
      scanned,
      ranged: { startRow, stopRow, limit, rows: ranged },
    });
    ctx.life.observed++;
    return true;
  } catch (err) {
    expectedError(ctx, `${kind} read`, err, true);
    return false;
  } finally {
    snap.release();
  }
}

/** Timestamps: the wall clock in whole milliseconds, ±2 ms (see the file comment). */
function timestamp(env: Env, rng: Prng): number {
  const ms = Math.floor(env.clock.nowMicros() / 1000);
  return (ms + rng.between(-2, 2)) * 1000;
}

function makeOps(env: Env, rng: Prng, rows: readonly Uint8Array[]): Op[] {
  const n = 1 + rng.int(5);
  const ops: Op[] = [];
  let row = rng.pick(rows);
  for (let i = 0; i < n; i++) {
    if (i > 0 && rng.chance(0.6)) row = rng.pick(rows);
    const familyName = rng.pick(dataFamilies);
    const family = utf8(familyName);
    const qualifier = rng.pick(qualifiers);
    const ts = timestamp(env, rng);
    const roll = rng.int(100);
    if (roll < 64) {
      const value = rng.bytes(rng.chance(0.2) ? rng.between(200, 1200) : rng.between(1, 160));
      ops.push({ kind: 'put', row, family, qualifier, ts, value });
    } else if (roll < 74 && familyName !== versionsFamily) {
      ops.push({ kind: 'deleteVersion', row, family, qualifier, ts, value: emptyBytes });
    } else if (roll < 84) {
      ops.push({ kind: 'deleteColumn', row, family, qualifier, ts, value: emptyBytes });
    } else if (roll < 92) {
      ops.push({ kind: 'deleteFamily', row, family, qualifier: emptyBytes, ts, value: emptyBytes });
    } else {
      ops.push({
        kind: 'deleteRow',
        row,
        family: emptyBytes,
        qualifier: emptyBytes,
        ts,
        value: emptyBytes,
      });
    }
  }
  return ops;
}

async function writer(env: Env, store: Store, ctx: NodeContext, rng: Prng): Promise<void> {
  const rows = ctx.config.rows.map(utf8);
  let rejections = 0;
  while (!ctx.life.stopping && rejections < writerRejectionsMax) {
    const k = rng.chance(0.2) ? rng.between(2, 3) : 1;
    const results = await Promise.all(
      Array.from({ length: k }, () => oneWrite(env, store, ctx, rng, rows)),
    );
    if (results.every((ok) => ok)) rejections = 0;
    else rejections++;
    await env.timers.sleep(results.every((ok) => ok) ? rng.int(4) : rng.between(5, 20));
  }
}

async function oneWrite(
  env: Env,
  store: Store,
  ctx: NodeContext,
  rng: Prng,
  rows: readonly Uint8Array[],
): Promise<boolean> {
  const ops = makeOps(env, rng, rows);
  const sync = ctx.config.walMode === 'interval' ? rng.chance(0.3) : rng.chance(0.1);
  const b = ctx.checker.register(ctx.life.epoch, ops, sync, env.clock.monoMicros());
  const options = sync ? { sync: true } : {};
  try {
    if (ctx.bugs.splitBatches === true) {
      const data = new WriteBatch();
      for (const op of ops) addToBatch(data, op);
      await store.write(data, options);
      await store.write(
        new WriteBatch().put(
          b.marker.row,
          b.marker.family,
          b.marker.qualifier,
          b.marker.ts,
          b.marker.value,
        ),
        options,
      );
    } else {
      const wb = new WriteBatch();
      for (const op of ops) addToBatch(wb, op);
      addToBatch(wb, b.marker);
      await store.write(wb, options);
    }
  } catch (err) {
    ctx.checker.settle(b, env.clock.monoMicros(), err);
    expectedError(ctx, `write of batch ${b.id}`, err);
    return false;
  }
  const now = env.clock.monoMicros();
  ctx.checker.settle(b, now);
  ctx.counters.maxAckMicros = Math.max(ctx.counters.maxAckMicros, now - b.calledMicros);
  return true;
}

/** Flushes, full compactions and snapshot reads (some held while the store goes on). */
async function maintenance(env: Env, store: Store, ctx: NodeContext, rng: Prng): Promise<void> {
  while (!ctx.life.stopping) {
    await env.timers.sleep(rng.between(2, 25));
    if (ctx.life.stopping) return;
    const roll = rng.int(10);
    try {
      if (roll < 3) await observe(env, store, ctx, 'live', 0);
      else if (roll < 4) await observe(env, store, ctx, 'live', rng.between(1, 30));
      else if (roll < 6) await store.flush();
      else if (roll < 7) await store.compactAll();
    } catch (err) {
      expectedError(ctx, roll < 6 ? 'flush()' : 'compactAll()', err, true);
      // A failed store refuses all work: stop calling it.
      if (isTesseraError(err, 'IO_ERROR')) return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The planted bug: a file system whose fsync of WAL files does nothing

function lyingWalEnv(env: Env): Env {
  const fs = env.fs;
  const lying: FileSystem = {
    open: async (path: string, options?: OpenOptions): Promise<File> => {
      if (!path.endsWith('.wal')) return fs.open(path, options);
      // Nor are its writes durable as they return (the WAL asks for O_DSYNC in always mode).
      const file = await fs.open(path, { ...options, dsync: false });
      return {
        path: file.path,
        size: () => file.size(),
        read: (p, n) => file.read(p, n),
        write: (p, d) => file.write(p, d),
        append: (d) => file.append(d),
        sync: () => Promise.resolve(),
        truncate: (n) => file.truncate(n),
        close: () => file.close(),
      };
    },
    readFile: (p) => fs.readFile(p),
    writeFile: (p, d, o) => fs.writeFile(p, d, o),
    rename: (a, b) => fs.rename(a, b),
    remove: (p, o) => fs.remove(p, o),
    list: (d) => fs.list(d),
    mkdir: (p, o) => fs.mkdir(p, o),
    syncDir: (p) => fs.syncDir(p),
    exists: (p) => fs.exists(p),
    stat: (p) => fs.stat(p),
  };
  return { ...env, fs: lying };
}
