/**
 * VersionEdit: one change to the set of files that make up the store, and the unit the manifest
 * records (one edit per log record). A manifest is a snapshot edit (every file, every counter)
 * followed by incremental edits; replaying them in order rebuilds the current version.
 *
 * Encoding (docs/formats/manifest.md): a sequence of fields, each a varint tag followed by the
 * field's bytes, until the end of the record. Tags are frozen forever. A decoder meeting a tag
 * it does not know raises CORRUPTION rather than skipping it: a field it cannot understand
 * might add or delete files, and ignoring it could lose data.
 */
import { assert } from '../../util/assert.js';
import { ByteReader, ByteWriter } from '../../util/byte-io.js';
import { copyBytes, utf8 } from '../../util/bytes.js';
import { TesseraError, corruption, type ErrorDetails } from '../../util/errors.js';
import { fileMetaProblem, levelCount, type FileMeta } from './file-meta.js';

export interface DeletedFile {
  readonly level: number;
  readonly fileNumber: number;
}

export interface CompactPointer {
  readonly level: number;
  /** Where the next compaction of this level starts (an internal key). */
  readonly key: Uint8Array;
}

export interface VersionEdit {
  /** Names the key format and ordering; written in every snapshot edit, checked on recovery. */
  readonly formatName?: string;
  /** WAL files numbered below this are no longer needed (their data is in tables). */
  readonly logNumber?: number;
  /** The next file number to hand out. */
  readonly nextFileNumber?: number;
  /** The highest sequence number used so far. */
  readonly lastSequence?: number;
  /** At most one per level. */
  readonly compactPointers?: readonly CompactPointer[];
  /** Applied before `addedFiles`, so one edit may move a file between levels. */
  readonly deletedFiles: readonly DeletedFile[];
  readonly addedFiles: readonly FileMeta[];
}

/** Field tags. Frozen forever: never renumber, never reuse a retired tag. 0 is never valid. */
export const EditTag = {
  FormatName: 1,
  LogNumber: 2,
  NextFileNumber: 3,
  LastSequence: 4,
  CompactPointer: 5,
  DeletedFile: 6,
  AddedFile: 7,
} as const;

export const emptyEdit: VersionEdit = Object.freeze({
  deletedFiles: Object.freeze([]) as readonly DeletedFile[],
  addedFiles: Object.freeze([]) as readonly FileMeta[],
});

function isCount(n: number | undefined): boolean {
  return n === undefined || (Number.isSafeInteger(n) && n >= 0);
}

function isLevel(level: number): boolean {
  return Number.isInteger(level) && level >= 0 && level < levelCount;
}

/** Why `edit` cannot be encoded, or undefined when it can. */
export function versionEditProblem(edit: VersionEdit): string | undefined {
  for (const [name, v] of [
    ['logNumber', edit.logNumber],
    ['nextFileNumber', edit.nextFileNumber],
    ['lastSequence', edit.lastSequence],
  ] as const) {
    if (!isCount(v)) return `${name} ${v} is not an integer in [0, 2^53)`;
  }
  const pointerLevels = new Set<number>();
  for (const p of edit.compactPointers ?? []) {
    if (!isLevel(p.level)) return `compact pointer level ${p.level} is outside 0…${levelCount - 1}`;
    if (pointerLevels.has(p.level)) return `two compact pointers for level ${p.level}`;
    pointerLevels.add(p.level);
  }
  for (const d of edit.deletedFiles) {
    if (!isLevel(d.level)) return `deleted file level ${d.level} is outside 0…${levelCount - 1}`;
    if (!(Number.isSafeInteger(d.fileNumber) && d.fileNumber >= 1)) {
      return `deleted file number ${d.fileNumber} is not an integer ≥ 1`;
    }
  }
  for (const f of edit.addedFiles) {
    const problem = fileMetaProblem(f);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Encodes an edit as one manifest record payload. Fields are written in tag order. */
export function encodeVersionEdit(edit: VersionEdit): Uint8Array {
  const problem = versionEditProblem(edit);
  assert(problem === undefined, `bad version edit: ${problem}`);
  const w = new ByteWriter();
  if (edit.formatName !== undefined) {
    w.varint(EditTag.FormatName).lengthPrefixed(utf8(edit.formatName));
  }
  if (edit.logNumber !== undefined) w.varint(EditTag.LogNumber).varint(edit.logNumber);
  if (edit.nextFileNumber !== undefined) {
    w.varint(EditTag.NextFileNumber).varint(edit.nextFileNumber);
  }
  if (edit.lastSequence !== undefined) w.varint(EditTag.LastSequence).varint(edit.lastSequence);
  for (const p of edit.compactPointers ?? []) {
    w.varint(EditTag.CompactPointer).varint(p.level).lengthPrefixed(p.key);
  }
  for (const d of edit.deletedFiles) {
    w.varint(EditTag.DeletedFile).varint(d.level).varint(d.fileNumber);
  }
  for (const f of edit.addedFiles) {
    w.varint(EditTag.AddedFile)
      .varint(f.level)
      .varint(f.fileNumber)
      .varint(f.size)
      .varint(f.entries)
      .varint(f.smallestSeq)
      .varint(f.largestSeq)
      .lengthPrefixed(f.smallest)
      .lengthPrefixed(f.largest);
  }
  return w.finish();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one manifest record payload. Any malformed input — truncated field, unknown tag,
 * repeated single-valued field, number out of range, invalid file description — raises
 * CORRUPTION (with `path`, when given, in the message and details); nothing else is thrown.
 * Keys in the result are copies, not views of `bytes`.
 */
export function decodeVersionEdit(bytes: Uint8Array, path?: string): VersionEdit {
  const r = new ByteReader(bytes);
  const where = path === undefined ? 'manifest record' : `manifest record in ${path}`;
  const fail = (message: string, offset: number): never => {
    const details: ErrorDetails = path === undefined ? { offset } : { path, offset };
    throw corruption(`${where}: ${message} (at byte ${offset} of the record)`, details);
  };
  const count = (what: string): number => {
    const at = r.pos;
    const v = r.varint();
    if (!Number.isSafeInteger(v)) fail(`${what} ${v} exceeds 2^53`, at);
    return v;
  };
  const level = (what: string): number => {
    const at = r.pos;
    const v = count(what);
    if (v >= levelCount) fail(`${what} ${v} is outside 0…${levelCount - 1}`, at);
    return v;
  };
  const fileNumber = (what: string): number => {
    const at = r.pos;
    const v = count(what);
    if (v < 1) fail(`${what} is 0`, at);
    return v;
  };

  let formatName: string | undefined;
  let logNumber: number | undefined;
  let nextFileNumber: number | undefined;
  let lastSequence: number | undefined;
  const compactPointers: CompactPointer[] = [];
  const deletedFiles: DeletedFile[] = [];
  const addedFiles: FileMeta[] = [];
  const once = (seen: unknown, name: string, at: number): void => {
    if (seen !== undefined) fail(`${name} appears twice`, at);
  };

  try {
    while (!r.atEnd()) {
      const at = r.pos;
      const tag = r.varint();
      switch (tag) {
        case EditTag.FormatName: {
          once(formatName, 'formatName', at);
          const b = r.lengthPrefixed();
          try {
            formatName = strictUtf8.decode(b);
          } catch {
            fail('formatName is not valid UTF-8', at);
          }
          break;
        }
        case EditTag.LogNumber:
          once(logNumber, 'logNumber', at);
          logNumber = count('logNumber');
          break;
        case EditTag.NextFileNumber:
          once(nextFileNumber, 'nextFileNumber', at);
          nextFileNumber = count('nextFileNumber');
          break;
        case EditTag.LastSequence:
          once(lastSequence, 'lastSequence', at);
          lastSequence = count('lastSequence');
          break;
        case EditTag.CompactPointer: {
          const lvl = level('compact pointer level');
          if (compactPointers.some((p) => p.level === lvl)) {
            fail(`two compact pointers for level ${lvl}`, at);
          }
          compactPointers.push({ level: lvl, key: copyBytes(r.lengthPrefixed()) });
          break;
        }
        case EditTag.DeletedFile: {
          const lvl = level('deleted file level');
          deletedFiles.push({ level: lvl, fileNumber: fileNumber('deleted file number') });
          break;
        }
        case EditTag.AddedFile: {
          const meta: FileMeta = {
            level: level('added file level'),
            fileNumber: fileNumber('added file number'),
            size: count('file size'),
            entries: count('entry count'),
            smallestSeq: count('smallestSeq'),
            largestSeq: count('largestSeq'),
            smallest: copyBytes(r.lengthPrefixed()),
            largest: copyBytes(r.lengthPrefixed()),
          };
          const problem = fileMetaProblem(meta);
          if (problem !== undefined) fail(problem, at);
          addedFiles.push(meta);
          break;
        }
        default:
          fail(`unknown field tag ${tag}`, at);
      }
    }
  } catch (err) {
    // ByteReader reports truncation without the file; add it.
    if (
      err instanceof TesseraError &&
      err.code === 'CORRUPTION' &&
      !err.message.startsWith(where)
    ) {
      fail(err.message, typeof err.details?.offset === 'number' ? err.details.offset : r.pos);
    }
    throw err;
  }

  return {
    ...(formatName !== undefined && { formatName }),
    ...(logNumber !== undefined && { logNumber }),
    ...(nextFileNumber !== undefined && { nextFileNumber }),
    ...(lastSequence !== undefined && { lastSequence }),
    ...(compactPointers.length > 0 && { compactPointers }),
    deletedFiles,
    addedFiles,
  };
}
