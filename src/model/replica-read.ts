/**
 * Reads of a replicated row: the cells a get returns when its entries come from several
 * replicas of a hashed table.
 *
 * Each replica answers its raw row (Tablet.rawRow: puts and tombstones, every version); the
 * coordinator resolves the union once (storage's resolveRawEntries, last write wins by cell
 * timestamp, deletes win ties) and then applies the read's plan exactly as a local get does:
 * selection, versions, time range, filter. So a read at QUORUM answers what one store holding
 * every write the answering replicas hold would answer.
 */
import type { Cell, RawEntry } from '../storage/index.js';
import { resolveRawEntries } from '../storage/index.js';
import { applyFilter } from './filters.js';
import { readPlan, type GetSpec, type ReadPlan } from './read-spec.js';
import { familyOptionsLookup, type TableSchema } from './schema.js';

/** The cells the plan keeps of a row's resolved cells: its filter, then its selection. */
export function finishRead(
  plan: ReadPlan,
  row: Uint8Array,
  cells: readonly Cell[],
): readonly Cell[] {
  if (plan.filter === undefined) return cells;
  const kept = applyFilter(plan.filter, row, cells);
  const selected = plan.selected;
  return selected === undefined ? kept : kept.filter((c) => selected(c.family, c.qualifier));
}

/**
 * The row's cells a get with `spec` returns, from the raw entries of any number of replicas,
 * at wall-clock time `nowMicros` (for TTLs). INVALID_ARGUMENT for a bad spec, as for a get.
 */
export function readReplicatedRow(
  schema: TableSchema,
  row: Uint8Array,
  spec: GetSpec,
  entries: readonly RawEntry[],
  nowMicros: number,
): readonly Cell[] {
  const plan = readPlan(spec, schema);
  const cells = resolveRawEntries(
    row,
    entries,
    { ...plan.options, now: nowMicros },
    familyOptionsLookup(schema),
  );
  return finishRead(plan, row, cells);
}
