/**
 * For tests: one row's entries written by hand into a ModelStore, with per-family options —
 * the input of the row resolver's and the compaction filter's hand-written cases.
 */
import { toHex, utf8 } from '../../util/bytes.js';
import {
  defaultFamilyOptions,
  type FamilyOptions,
  type FamilyOptionsLookup,
} from '../family-options.js';
import { Kind, type CellCoordinates } from '../key.js';
import { ModelStore } from './model.js';

export class HandWrittenRow {
  readonly model = new ModelStore();
  /** Sequence number of the last write. */
  protected seq = 0;
  private readonly options = new Map<string, FamilyOptions>();
  readonly lookup: FamilyOptionsLookup = (fam) =>
    this.options.get(toHex(fam)) ?? defaultFamilyOptions;

  constructor(readonly row: Uint8Array) {}

  family(fam: Uint8Array, o: Partial<FamilyOptions>): this {
    this.options.set(toHex(fam), { ...defaultFamilyOptions, ...o });
    return this;
  }
  write(c: Omit<CellCoordinates, 'row'>, value = ''): number {
    this.model.apply({ row: this.row, ...c }, ++this.seq, utf8(value));
    return this.seq;
  }
  put(family: Uint8Array, qualifier: Uint8Array, timestamp: number, value: string): number {
    return this.write({ family, qualifier, timestamp, kind: Kind.Put }, value);
  }
  del(kind: Kind, family: Uint8Array, qualifier: Uint8Array, timestamp: number): number {
    return this.write({ family, qualifier, timestamp, kind });
  }
}
