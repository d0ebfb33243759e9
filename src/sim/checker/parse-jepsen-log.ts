/**
 * Parsers from recorded histories to HistoryEvents.
 *
 * - Jepsen's text log (as in shared/histories/jepsen-etcd): one event per line,
 *   `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>`, the value written in EDN
 *   (`nil`, `3`, `[1 2]`, `:timed-out`). Lines without `jepsen.util -` (other log output) are
 *   skipped, and so are the nemesis's events (a process that is not a number).
 * - EDN maps (as in shared/histories/kv): `{:process P, :type :ok, :f :get, :key "K", :value V}`,
 *   one per event (the nemesis's, whose process is a keyword, are skipped).
 *
 * Malformed events raise INVALID_ARGUMENT naming the line.
 */
import { TesseraError } from '../../util/errors.js';
import { isEventType, type HistoryEvent } from './history.js';
import { EdnSymbol, Keyword, keyword, parseEdn, parseEdnAll, type EdnValue } from './parse-edn.js';

const JEPSEN_LINE = /jepsen\.util\s+-\s+(\S+)\s+:([\w-]+)\s+:([\w-]+)\s*(.*)$/;

export function parseJepsenLog(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.includes('jepsen.util -')) return;
    const m = JEPSEN_LINE.exec(raw);
    if (!m) throw invalid(line, `not a Jepsen event: ${JSON.stringify(raw.slice(0, 80))}`);
    const [, proc, type, f, valueText] = m as unknown as [string, string, string, string, string];
    if (!/^\d+$/.test(proc)) return; // :nemesis and friends are not clients
    if (!isEventType(type)) throw invalid(line, `unknown event type ':${type}'`);
    let value: EdnValue;
    try {
      value = valueText.trim() === '' ? null : parseEdn(valueText);
    } catch (err) {
      throw invalid(line, `bad value ${JSON.stringify(valueText)}: ${(err as Error).message}`);
    }
    events.push({ process: Number(proc), type, f, value, line });
  });
  return events;
}

export function parseEdnHistory(text: string): HistoryEvent[] {
  return parseEdnAll(text).flatMap(({ value, line }): HistoryEvent[] => {
    if (!(value instanceof Map)) throw invalid(line, 'expected an EDN map per event');
    const get = (name: string): EdnValue | undefined => value.get(keyword(name));
    const process = get('process');
    const type = get('type');
    const f = get('f');
    const key = get('key');
    if (process instanceof Keyword) return []; // :nemesis and friends are not clients
    if (typeof process !== 'number') throw invalid(line, ':process must be a number');
    if (!(type instanceof Keyword) || !isEventType(type.name)) {
      throw invalid(line, ':type must be :invoke, :ok, :fail or :info');
    }
    if (!(f instanceof Keyword) && !(f instanceof EdnSymbol) && typeof f !== 'string') {
      throw invalid(line, ':f must be a keyword');
    }
    const event: HistoryEvent = {
      process,
      type: type.name,
      f: f instanceof Keyword ? f.name : String(f),
      value: get('value') ?? null,
      line,
      ...(key !== undefined && key !== null ? { key: formatKey(key) } : {}),
    };
    return [event];
  });
}

/** Chooses the parser by the first non-blank character: `{` means EDN maps. */
export function parseHistory(text: string): HistoryEvent[] {
  const first = /\S/.exec(text);
  return first !== null && first[0] === '{' ? parseEdnHistory(text) : parseJepsenLog(text);
}

function formatKey(key: EdnValue): string {
  return typeof key === 'string' ? key : JSON.stringify(key);
}

function invalid(line: number, message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', `line ${line}: ${message}`, { line });
}
