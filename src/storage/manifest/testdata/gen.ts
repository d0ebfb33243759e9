/**
 * Test helpers: random file descriptions, random edits of any shape (for codec tests), and
 * random *valid* edits against a version (for version and version-set tests), shaped like what
 * an engine does — flushes, leveled compactions, trivial moves, full compactions.
 */
import type { Prng } from '../../../util/prng.js';
import { levelCount, type FileMeta } from '../file-meta.js';
import type { CompactPointer, DeletedFile, VersionEdit } from '../version-edit.js';
import { Version } from '../version.js';

/** Keys of the valid-edit generator: 4 bytes big-endian, so integer order is byte order. */
export function key(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function keyNumber(k: Uint8Array): number {
  return new DataView(k.buffer, k.byteOffset, k.byteLength).getUint32(0);
}

const keySpace = 100_000;

function randomCount(prng: Prng): number {
  // Mostly small, sometimes near 2^53, to cover every varint length.
  switch (prng.int(4)) {
    case 0:
      return prng.int(128);
    case 1:
      return prng.int(0x1_0000_0000);
    case 2:
      return prng.int(0x20_0000) * 0x1_0000_0000 + prng.int(0x1_0000_0000);
    default:
      return Number.MAX_SAFE_INTEGER - prng.int(4);
  }
}

function sortedPair(a: Uint8Array, b: Uint8Array): [Uint8Array, Uint8Array] {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? [a, b] : [b, a];
  }
  return a.length <= b.length ? [a, b] : [b, a];
}

/** Any structurally valid FileMeta (keys of random bytes). */
export function randomFileMeta(prng: Prng): FileMeta {
  const [smallest, largest] = sortedPair(
    prng.bytes(prng.int(40)),
    prng.bytes(prng.chance(0.1) ? prng.int(300) : prng.int(40)),
  );
  const s1 = randomCount(prng);
  const s2 = randomCount(prng);
  return {
    fileNumber: 1 + prng.int(0x7fff_ffff) * (prng.chance(0.2) ? 0x10_0000 : 1),
    level: prng.int(levelCount),
    size: randomCount(prng),
    entries: randomCount(prng),
    smallest,
    largest,
    smallestSeq: Math.min(s1, s2),
    largestSeq: Math.max(s1, s2),
  };
}

/** Any encodable edit (not necessarily one a version would accept). */
export function randomEdit(prng: Prng): VersionEdit {
  const pointers: CompactPointer[] = [];
  for (let level = 0; level < levelCount; level++) {
    if (prng.chance(0.15)) pointers.push({ level, key: prng.bytes(prng.int(30)) });
  }
  const deletedFiles: DeletedFile[] = Array.from({ length: prng.int(6) }, () => ({
    level: prng.int(levelCount),
    fileNumber: Math.min(1 + randomCount(prng), Number.MAX_SAFE_INTEGER),
  }));
  return {
    ...(prng.chance(0.3) && { formatName: prng.pick(['', 'tessera', 'ключи-ü-v1']) }),
    ...(prng.chance(0.5) && { logNumber: randomCount(prng) }),
    ...(prng.chance(0.5) && { nextFileNumber: randomCount(prng) }),
    ...(prng.chance(0.5) && { lastSequence: randomCount(prng) }),
    ...(pointers.length > 0 && { compactPointers: pointers }),
    deletedFiles,
    addedFiles: Array.from({ length: prng.int(6) }, () => randomFileMeta(prng)),
  };
}

export interface GeneratorState {
  /** The version the next edit will be applied to. */
  version: Version;
  /** The highest sequence number handed out so far. */
  lastSequence: number;
}

function tableMeta(
  fileNumber: number,
  level: number,
  lo: number,
  hi: number,
  seqLo: number,
  seqHi: number,
  prng: Prng,
): FileMeta {
  return {
    fileNumber,
    level,
    size: 1 + prng.int(1 << 20),
    entries: 1 + prng.int(5000),
    smallest: key(lo),
    largest: key(hi),
    smallestSeq: seqLo,
    largestSeq: seqHi,
  };
}

function hull(files: readonly FileMeta[]): [number, number, number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  let seqLo = Infinity;
  let seqHi = -Infinity;
  for (const f of files) {
    lo = Math.min(lo, keyNumber(f.smallest));
    hi = Math.max(hi, keyNumber(f.largest));
    seqLo = Math.min(seqLo, f.smallestSeq);
    seqHi = Math.max(seqHi, f.largestSeq);
  }
  return [lo, hi, seqLo, seqHi];
}

/** `count` disjoint, sorted ranges covering [lo, hi] (fewer when the range is short). */
function split(lo: number, hi: number, count: number, prng: Prng): [number, number][] {
  const cuts = new Set<number>();
  for (let i = 1; i < count && hi - lo >= 2; i++) cuts.add(lo + 1 + prng.int(hi - lo - 1));
  const points = [...cuts].sort((a, b) => a - b);
  const out: [number, number][] = [];
  let start = lo;
  for (const c of points) {
    if (c - 1 < start) continue;
    out.push([start, c - 1]);
    start = c;
  }
  out.push([start, hi]);
  return out;
}

/**
 * A random edit that `state.version` accepts, like an engine's: mostly flushes into level 0
 * and compactions from level n into n + 1; sometimes trivial moves, full compactions, compact
 * pointers, or nothing but counters. `newFileNumber` hands out file numbers (and log numbers).
 * Updates `state.lastSequence` (not `state.version`).
 */
export function randomValidEdit(
  prng: Prng,
  state: GeneratorState,
  newFileNumber: () => number,
): VersionEdit {
  const v = state.version;
  const flush = (): VersionEdit => {
    const lo = prng.int(keySpace);
    const hi = Math.min(keySpace, lo + prng.int(keySpace / 10));
    const seqLo = state.lastSequence + 1;
    state.lastSequence += 1 + prng.int(1000);
    const file = tableMeta(newFileNumber(), 0, lo, hi, seqLo, state.lastSequence, prng);
    return {
      ...(prng.chance(0.7) && { logNumber: newFileNumber() }),
      ...(prng.chance(0.8) && { lastSequence: state.lastSequence }),
      deletedFiles: [],
      addedFiles: [file],
    };
  };
  const choice = prng.int(100);
  if (choice < 50 || v.totalFileCount() === 0) return flush();
  if (choice < 55) {
    // Counters and compact pointers only.
    return {
      ...(prng.chance(0.5) && { lastSequence: (state.lastSequence += prng.int(10)) }),
      compactPointers: [{ level: 1 + prng.int(levelCount - 1), key: key(prng.int(keySpace)) }],
      deletedFiles: [],
      addedFiles: [],
    };
  }
  if (choice < 56) {
    // Full compaction: everything into the last level.
    const all = v.levels.flat();
    const [lo, hi, seqLo, seqHi] = hull(all);
    const outputs = split(lo, hi, 1 + prng.int(4), prng).map(([a, b]) =>
      tableMeta(newFileNumber(), levelCount - 1, a, b, seqLo, seqHi, prng),
    );
    return {
      deletedFiles: all.map((f) => ({ level: f.level, fileNumber: f.fileNumber })),
      addedFiles: outputs,
    };
  }
  // Leveled compaction or trivial move from a non-empty level.
  const levels = [...Array(levelCount - 1).keys()].filter((l) => v.fileCount(l) > 0);
  if (levels.length === 0) return flush();
  const level = prng.pick(levels);
  const files = v.files(level);
  const inputs = level === 0 ? files.filter(() => prng.chance(0.7)) : [prng.pick(files)];
  if (inputs.length === 0) inputs.push(files[0]!);
  const [lo, hi] = hull(inputs);
  const next = v.overlappingFiles(level + 1, key(lo), key(hi));
  if (next.length === 0 && inputs.length === 1 && prng.chance(0.5)) {
    const f = inputs[0]!;
    return {
      deletedFiles: [{ level, fileNumber: f.fileNumber }],
      addedFiles: [{ ...f, level: level + 1 }],
      ...(prng.chance(0.3) && { compactPointers: [{ level, key: f.largest }] }),
    };
  }
  const all = [...inputs, ...next];
  const [lo2, hi2, seqLo, seqHi] = hull(all);
  const outputs = split(lo2, hi2, 1 + prng.int(6), prng).map(([a, b]) =>
    tableMeta(newFileNumber(), level + 1, a, b, seqLo, seqHi, prng),
  );
  return {
    deletedFiles: all.map((f) => ({ level: f.level, fileNumber: f.fileNumber })),
    addedFiles: outputs,
    ...(level > 0 && prng.chance(0.5) && { compactPointers: [{ level, key: key(hi) }] }),
  };
}

/** What recovery must reproduce of a version set, in a form `toEqual` compares. */
export interface SetSummary {
  readonly levels: readonly (readonly FileMeta[])[];
  readonly logNumber: number;
  readonly lastSequence: number;
  readonly compactPointers: readonly (readonly [number, Uint8Array])[];
}

export function summarize(s: {
  readonly current: Version;
  readonly logNumber: number;
  readonly lastSequence: number;
  readonly compactPointers: ReadonlyMap<number, Uint8Array>;
}): SetSummary {
  return {
    levels: s.current.levels.map((files) => [...files]),
    logNumber: s.logNumber,
    lastSequence: s.lastSequence,
    compactPointers: [...s.compactPointers].sort((a, b) => a[0] - b[0]),
  };
}

/** What a version set should hold after a sequence of edits: the model the tests check against. */
export class ModelSet {
  current: Version = Version.empty();
  logNumber = 0;
  lastSequence = 0;
  compactPointers = new Map<number, Uint8Array>();

  apply(edit: VersionEdit): SetSummary {
    this.current = this.current.apply(edit);
    this.logNumber = edit.logNumber ?? this.logNumber;
    this.lastSequence = Math.max(this.lastSequence, edit.lastSequence ?? 0);
    for (const p of edit.compactPointers ?? []) this.compactPointers.set(p.level, p.key);
    return summarize(this);
  }
}
