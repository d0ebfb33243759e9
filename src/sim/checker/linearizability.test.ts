import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../util/errors.js';
import { buildOperations, type EventType, type HistoryEvent } from './history.js';
import { checkLinearizability, type CheckOptions, type CheckResult } from './linearizability.js';
import { kvModel, registerModel, type Model } from './models.js';
import { parseEdnHistory, parseHistory, parseJepsenLog } from './parse-jepsen-log.js';

/** `e(1, 'invoke', 'write', 3)`: one event; the key, if any, last. */
function e(
  process: number,
  type: EventType,
  f: string,
  value: unknown,
  key?: string,
): HistoryEvent {
  return key === undefined ? { process, type, f, value } : { process, type, f, value, key };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function check(model: Model<any>, events: HistoryEvent[], options?: CheckOptions): CheckResult {
  return checkLinearizability(model, buildOperations(events), options);
}

const register = (events: HistoryEvent[], options?: CheckOptions): CheckResult =>
  check(registerModel, events, options);

describe('buildOperations', () => {
  it('pairs events; drops fails; leaves info and unanswered invokes open', () => {
    const ops = buildOperations([
      e(0, 'invoke', 'write', 1),
      e(1, 'invoke', 'write', 2),
      e(2, 'invoke', 'read', null),
      e(0, 'ok', 'write', 1),
      e(1, 'fail', 'write', 2),
      e(2, 'info', 'read', null),
      e(3, 'invoke', 'cas', [1, 2]),
    ]);
    expect(ops.map((op) => [op.f, op.status, op.call, op.ret])).toEqual([
      ['write', 'ok', 0, 3],
      ['read', 'info', 2, Infinity],
      ['cas', 'info', 6, Infinity],
    ]);
    expect(ops.map((op) => op.id)).toEqual([0, 1, 2]);
  });

  it('rejects malformed histories', () => {
    const bad = (events: HistoryEvent[]): unknown => {
      try {
        buildOperations(events);
      } catch (err) {
        return isTesseraError(err, 'INVALID_ARGUMENT') ? err.message : err;
      }
      return 'accepted';
    };
    expect(bad([e(0, 'ok', 'read', 1)])).toMatch(/no pending invoke/);
    expect(bad([e(0, 'invoke', 'read', null), e(0, 'invoke', 'read', null)])).toMatch(
      /still pending/,
    );
    expect(bad([e(0, 'invoke', 'read', null), e(0, 'ok', 'write', 1)])).toMatch(/does not match/);
  });
});

describe('register linearizability', () => {
  it('accepts a sequential history', () => {
    const r = register([
      e(0, 'invoke', 'read', null),
      e(0, 'ok', 'read', null),
      e(0, 'invoke', 'write', 1),
      e(0, 'ok', 'write', 1),
      e(1, 'invoke', 'cas', [1, 2]),
      e(1, 'ok', 'cas', [1, 2]),
      e(0, 'invoke', 'read', null),
      e(0, 'ok', 'read', 2),
    ]);
    expect(r.verdict).toBe('linearizable');
  });

  it('catches a stale read and reports the failing window', () => {
    const r = register([
      e(0, 'invoke', 'write', 1),
      e(0, 'ok', 'write', 1),
      e(0, 'invoke', 'write', 2),
      e(0, 'ok', 'write', 2),
      e(1, 'invoke', 'read', null),
      e(1, 'ok', 'read', 1),
      e(0, 'invoke', 'write', 3),
      e(0, 'ok', 'write', 3),
    ]);
    expect(r.verdict).toBe('not-linearizable');
    const f = r.failure!;
    expect(f.minimized).toBe(true);
    expect([f.failed.f, f.failed.output]).toEqual(['read', 1]);
    expect(f.prefix.map((op) => op.input)).toEqual([1, 2]);
    expect(f.stateAfterPrefix).toBe('2');
    expect(f.concurrent).toEqual([]);
    expect(f.window.map((op) => op.f)).toEqual(['write', 'read']);
  });

  it('allows concurrent operations to take effect in either order', () => {
    for (const seen of [null, 1]) {
      const r = register([
        e(0, 'invoke', 'write', 1),
        e(1, 'invoke', 'read', null),
        e(1, 'ok', 'read', seen),
        e(0, 'ok', 'write', 1),
      ]);
      expect(r.verdict).toBe('linearizable');
    }
    // Two overlapping writes, then reads that see both orders are not both allowed...
    const both = register([
      e(0, 'invoke', 'write', 1),
      e(1, 'invoke', 'write', 2),
      e(0, 'ok', 'write', 1),
      e(1, 'ok', 'write', 2),
      e(2, 'invoke', 'read', null),
      e(2, 'ok', 'read', 1),
      e(2, 'invoke', 'read', null),
      e(2, 'ok', 'read', 2),
    ]);
    expect(both.verdict).toBe('not-linearizable');
    expect(both.failure!.failed.output).toBe(2);
    // ...but either one alone is.
    for (const last of [1, 2]) {
      const r = register([
        e(0, 'invoke', 'write', 1),
        e(1, 'invoke', 'write', 2),
        e(0, 'ok', 'write', 1),
        e(1, 'ok', 'write', 2),
        e(2, 'invoke', 'read', null),
        e(2, 'ok', 'read', last),
      ]);
      expect(r.verdict).toBe('linearizable');
    }
  });

  it('reports the operations concurrent with the one that cannot be placed', () => {
    const r = register([
      e(0, 'invoke', 'write', 1),
      e(0, 'ok', 'write', 1),
      e(1, 'invoke', 'write', 2),
      e(2, 'invoke', 'read', null),
      e(2, 'ok', 'read', 3),
      e(1, 'ok', 'write', 2),
    ]);
    expect(r.verdict).toBe('not-linearizable');
    const f = r.failure!;
    expect(f.failed.output).toBe(3);
    expect(f.concurrent.map((op) => [op.f, op.input])).toEqual([['write', 2]]);
  });

  it('lets an indeterminate write take effect, late', () => {
    const r = register([
      e(0, 'invoke', 'write', 1),
      e(0, 'info', 'write', 1),
      e(1, 'invoke', 'read', null),
      e(1, 'ok', 'read', null),
      e(1, 'invoke', 'read', null),
      e(1, 'ok', 'read', 1),
    ]);
    expect(r.verdict).toBe('linearizable');
  });

  it('lets an indeterminate write never take effect, but not undo it', () => {
    const prefix = [
      e(0, 'invoke', 'write', 1),
      e(0, 'ok', 'write', 1),
      e(1, 'invoke', 'write', 2),
      e(1, 'info', 'write', 2),
    ];
    const never = register([...prefix, e(0, 'invoke', 'read', null), e(0, 'ok', 'read', 1)]);
    expect(never.verdict).toBe('linearizable');
    const undone = register([
      ...prefix,
      e(0, 'invoke', 'read', null),
      e(0, 'ok', 'read', 2),
      e(0, 'invoke', 'read', null),
      e(0, 'ok', 'read', 1),
    ]);
    expect(undone.verdict).toBe('not-linearizable');
    // An invoke with no completion at all is indeterminate too.
    const open = register([
      e(0, 'invoke', 'write', 1),
      e(0, 'ok', 'write', 1),
      e(1, 'invoke', 'write', 2),
      e(0, 'invoke', 'read', null),
      e(0, 'ok', 'read', 2),
    ]);
    expect(open.verdict).toBe('linearizable');
  });

  it('treats failed operations as never having happened', () => {
    const r = register([
      e(0, 'invoke', 'write', 1),
      e(0, 'fail', 'write', 1),
      e(1, 'invoke', 'read', null),
      e(1, 'ok', 'read', 1),
    ]);
    expect(r.verdict).toBe('not-linearizable');
  });

  it('checks cas preconditions; an indeterminate cas may have failed', () => {
    const okCas = [e(0, 'invoke', 'cas', [1, 2]), e(0, 'ok', 'cas', [1, 2])];
    expect(register(okCas).verdict).toBe('not-linearizable'); // the register is nil, not 1
    const infoCas = register([
      e(0, 'invoke', 'cas', [1, 2]),
      e(0, 'info', 'cas', [1, 2]),
      e(1, 'invoke', 'write', 1),
      e(1, 'ok', 'write', 1),
      e(1, 'invoke', 'read', null),
      e(1, 'ok', 'read', 2), // the cas took effect after the write
    ]);
    expect(infoCas.verdict).toBe('linearizable');
  });

  it('ends with unknown when the budget runs out', () => {
    // Many overlapping indeterminate writes and a read nobody wrote: a large search.
    const events: HistoryEvent[] = [];
    for (let p = 0; p < 14; p++) events.push(e(p, 'invoke', 'write', p));
    for (let p = 0; p < 14; p++) events.push(e(p, 'info', 'write', p));
    events.push(e(99, 'invoke', 'read', null), e(99, 'ok', 'read', 1000));
    expect(register(events, { maxSteps: 1000 }).verdict).toBe('unknown');
    let polls = 0;
    const stopped = register(events, { shouldStop: () => ++polls > 2 });
    expect(stopped.verdict).toBe('unknown');
    expect(stopped.steps).toBeLessThan(5 * 4096);
  });

  it('explores equivalent orders once (memoization)', () => {
    // 12 concurrent writes of the same value: 12! orders, but few distinct (set, state) pairs.
    const events: HistoryEvent[] = [];
    for (let p = 0; p < 12; p++) events.push(e(p, 'invoke', 'write', 7));
    for (let p = 0; p < 12; p++) events.push(e(p, 'ok', 'write', 7));
    events.push(e(99, 'invoke', 'read', null), e(99, 'ok', 'read', 8));
    const r = register(events, { maxSteps: 1_000_000 });
    expect(r.verdict).toBe('not-linearizable');
    expect(r.steps).toBeLessThan(100_000);
  });
});

describe('models', () => {
  it('reject operations they do not know', () => {
    const events = [e(0, 'invoke', 'get', null, 'k'), e(0, 'ok', 'get', '', 'k')];
    expect(() => register(events)).toThrow(/register model: unknown operation 'get'/);
    expect(() => register([e(0, 'invoke', 'cas', 1), e(0, 'ok', 'cas', 1)])).toThrow(
      /cas expects \[from to\]/,
    );
  });
});

describe('kv linearizability', () => {
  it('checks each key on its own and names the failing key', () => {
    const events = [
      e(0, 'invoke', 'append', 'a', 'x'),
      e(1, 'invoke', 'append', 'b', 'y'),
      e(0, 'ok', 'append', 'a', 'x'),
      e(1, 'ok', 'append', 'b', 'y'),
      e(0, 'invoke', 'get', null, 'x'),
      e(0, 'ok', 'get', 'a', 'x'),
      e(1, 'invoke', 'get', null, 'y'),
      e(1, 'ok', 'get', '', 'y'), // stale: the append to y had returned
    ];
    const r = check(kvModel, events);
    expect(r.verdict).toBe('not-linearizable');
    expect(r.partitions).toBe(2);
    expect(r.failure!.partition).toBe('y');
    expect(check(kvModel, events.slice(0, 6)).verdict).toBe('linearizable');
  });

  it('applies put and append', () => {
    const r = check(kvModel, [
      e(0, 'invoke', 'put', 'ab', 'k'),
      e(0, 'ok', 'put', 'ab', 'k'),
      e(0, 'invoke', 'append', 'c', 'k'),
      e(0, 'ok', 'append', 'c', 'k'),
      e(0, 'invoke', 'get', null, 'k'),
      e(0, 'ok', 'get', 'abc', 'k'),
    ]);
    expect(r.verdict).toBe('linearizable');
  });
});

describe('history parsers', () => {
  it('reads a Jepsen log', () => {
    const text = [
      'INFO  jepsen.util - 0\t:invoke\t:read\tnil',
      'some other log line',
      'INFO  jepsen.util - :nemesis\t:info\t:start\tnil',
      'INFO  jepsen.util - 0\t:ok\t:read\t3',
      'INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]',
      'INFO  jepsen.util - 2\t:info\t:cas\t:timed-out',
      '',
    ].join('\n');
    const events = parseJepsenLog(text);
    expect(events.map((ev) => [ev.process, ev.type, ev.f, ev.line])).toEqual([
      [0, 'invoke', 'read', 1],
      [0, 'ok', 'read', 4],
      [2, 'invoke', 'cas', 5],
      [2, 'info', 'cas', 6],
    ]);
    expect(events[1]!.value).toBe(3);
    expect(events[2]!.value).toEqual([3, 0]);
    expect(parseHistory(text)).toEqual(events);
    expect(() => parseJepsenLog('INFO  jepsen.util - 0\t:done\t:read\tnil')).toThrow(
      /line 1: unknown event type/,
    );
    expect(() => parseJepsenLog('INFO  jepsen.util - 0\t:ok\t:read\t[1')).toThrow(
      /line 1: bad value/,
    );
  });

  it('reads EDN maps', () => {
    const text =
      '{:process 1, :type :invoke, :f :get, :key "9", :value nil}\n' +
      '{:process :nemesis, :type :info, :f :start, :value nil}\n' +
      '{:process 1, :type :ok, :f :get, :key "9", :value ""}\n';
    const events = parseEdnHistory(text);
    expect(events).toEqual([
      { process: 1, type: 'invoke', f: 'get', key: '9', value: null, line: 1 },
      { process: 1, type: 'ok', f: 'get', key: '9', value: '', line: 3 },
    ]);
    expect(parseHistory(text)).toEqual(events);
    expect(() => parseEdnHistory('[1 2]')).toThrow(/line 1: expected an EDN map/);
    expect(() => parseEdnHistory('{:process 1, :type :done, :f :get}')).toThrow(/:type must be/);
    expect(() => parseEdnHistory('{:process 1, :type :ok')).toThrow(/unterminated/);
  });
});
