/**
 * The operation history model shared by the parsers, models and the linearizability checker.
 *
 * A history is a sequence of events, as Jepsen records them: each client process invokes an
 * operation and later completes it with `ok` (it took effect, with this result), `fail` (it
 * certainly did not take effect) or `info` (indeterminate: it may have taken effect at any
 * moment after its invoke, or never). An invoke that never completes is indeterminate too.
 *
 * `buildOperations` pairs events into operations with call and return positions (indices in
 * the event sequence). Failed operations are dropped: they changed nothing. Indeterminate ones
 * never return: their `ret` is `Infinity`, so they stay concurrent with everything after their
 * call, and the checker may place them anywhere after it (placing one after every other
 * operation is the same as it never happening).
 */
import { TesseraError } from '../../util/errors.js';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type Process = number | string;

export interface HistoryEvent {
  readonly process: Process;
  readonly type: EventType;
  readonly f: string;
  readonly value: unknown;
  /** The key, for histories over many independent keys. */
  readonly key?: string;
  /** Where the event came from (1-based line of the input), for messages. */
  readonly line?: number;
}

export interface Operation {
  /** Index of the operation in the array `buildOperations` returns. */
  readonly id: number;
  readonly process: Process;
  readonly f: string;
  readonly key: string | undefined;
  /** The invoke's value (what was asked). */
  readonly input: unknown;
  /** The completion's value (what was observed); undefined when indeterminate. */
  readonly output: unknown;
  readonly status: 'ok' | 'info';
  /** Position of the invoke event. */
  readonly call: number;
  /** Position of the `ok` event; Infinity when indeterminate. */
  readonly ret: number;
}

export const EVENT_TYPES: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

/** Pairs invoke and completion events into operations (see the module comment). */
export function buildOperations(events: readonly HistoryEvent[]): Operation[] {
  type Pending = { event: HistoryEvent; position: number };
  const pending = new Map<Process, Pending>();
  const built: Omit<Operation, 'id'>[] = [];
  const where = (e: HistoryEvent, i: number): string =>
    e.line !== undefined ? `line ${e.line}` : `event ${i}`;

  events.forEach((event, position) => {
    if (event.type === 'invoke') {
      const open = pending.get(event.process);
      if (open !== undefined) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `process ${String(event.process)} invokes at ${where(event, position)} while its ` +
            `invoke at ${where(open.event, open.position)} is still pending`,
        );
      }
      pending.set(event.process, { event, position });
      return;
    }
    const open = pending.get(event.process);
    if (open === undefined) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${event.type} at ${where(event, position)} for process ${String(event.process)}, ` +
          'which has no pending invoke',
      );
    }
    if (open.event.f !== event.f || open.event.key !== event.key) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `completion at ${where(event, position)} does not match its invoke at ` +
          `${where(open.event, open.position)}`,
      );
    }
    pending.delete(event.process);
    if (event.type === 'fail') return;
    const ok = event.type === 'ok';
    built.push({
      process: event.process,
      f: event.f,
      key: event.key,
      input: open.event.value,
      output: ok ? event.value : undefined,
      status: ok ? 'ok' : 'info',
      call: open.position,
      ret: ok ? position : Infinity,
    });
  });
  for (const open of pending.values()) {
    const e = open.event;
    built.push({
      process: e.process,
      f: e.f,
      key: e.key,
      input: e.value,
      output: undefined,
      status: 'info',
      call: open.position,
      ret: Infinity,
    });
  }
  built.sort((a, b) => a.call - b.call);
  return built.map((op, id) => ({ ...op, id }));
}

/** Renders a value the way Jepsen prints it: nil, numbers, "strings", [vectors]. */
export function formatValue(v: unknown): string {
  if (v === null) return 'nil';
  if (v === undefined) return '?';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  return String(v);
}

/** One line per operation, e.g. `p3 cas [1 2] → ok  [12, 15]` or `p4 write 3 → info [7, ∞)`. */
export function formatOperation(op: Operation): string {
  const key = op.key !== undefined ? ` ${JSON.stringify(op.key)}` : '';
  const result =
    op.status === 'info' ? 'info (indeterminate)' : `ok ${formatValue(op.output)}`.trimEnd();
  const span = op.ret === Infinity ? `[${op.call}, ∞)` : `[${op.call}, ${op.ret}]`;
  return `p${String(op.process)} ${op.f}${key} ${formatValue(op.input)} → ${result}  ${span}`;
}
