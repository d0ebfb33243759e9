import { describe, expect, it } from 'vitest';
import { formatOutcome, runScenario } from '../runner.js';
import { checkHistory, makeRpcScenario, rpcScenario, type CallRecord } from './rpc.js';

/** Seeds per CI run; `npm run sim:long` runs thousands. */
const ciSeeds = Number(process.env.TESSERA_SIM_SEEDS ?? 100);

describe('rpc scenario', () => {
  it('is a pure function of its seed: seed 7 twice gives one digest, seed 8 another', async () => {
    const a = await runScenario(rpcScenario, 7);
    const b = await runScenario(rpcScenario, 7);
    const c = await runScenario(rpcScenario, 8);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).toBe(a.digest);
    expect(c.digest).not.toBe(a.digest);
    expect(a.summary).toBe(b.summary);
  });

  it(`holds its properties for ${ciSeeds} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= ciSeeds; seed++) {
      const outcome = await runScenario(rpcScenario, seed);
      if (!outcome.passed) failures.push(formatOutcome(outcome).join('\n'));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  });

  it('exercises the faults it claims to: errors of each transport kind and successes occur', async () => {
    const seen = new Set<string>();
    for (let seed = 100; seed < 110; seed++) {
      const outcome = await runScenario(rpcScenario, seed);
      for (const m of outcome.summary.matchAll(/([A-Z_]+)=\d+/g)) seen.add(m[1]!);
      expect(outcome.summary).toMatch(/\d+ ok/);
    }
    expect(seen).toContain('DEADLINE_EXCEEDED');
    expect(seen).toContain('CONNECTION_CLOSED');
    expect(seen).toContain('NOT_FOUND');
  });
});

describe('rpc scenario checkers', () => {
  it("catch a server that answers a call with another call's reply, and print the replay", async () => {
    const outcome = await runScenario(makeRpcScenario({ swapReplies: true }), 3);
    expect(outcome.passed).toBe(false);
    expect(outcome.violations.join('\n')).toMatch(/does not match its request/);
    expect(formatOutcome(outcome).join('\n')).toContain('replay: npx tessera sim rpc --seed 3');
    expect(formatOutcome(outcome).at(-1)).toMatch(/^trace [0-9a-f]{64}$/);
  });

  const base: CallRecord = {
    id: 1,
    client: 'c1',
    server: 's1',
    kind: 'add',
    timeoutMs: 100,
    args: { id: 1, a: 2, b: 3 },
    issuedMicros: 1_000_000,
    settledMicros: 1_010_000,
    settleCount: 1,
    outcome: { ok: true, value: 5 },
    inLiveness: false,
  };

  it('accept a correct, timely call', () => {
    const out: string[] = [];
    checkHistory([base], [], out);
    expect(out).toEqual([]);
  });

  it('flag a wrong sum, a late settlement, a missing settlement and an unexpected code', () => {
    const out: string[] = [];
    checkHistory(
      [
        { ...base, id: 2, outcome: { ok: true, value: 6 } },
        { ...base, id: 3, settledMicros: 1_000_000 + 150_000 },
        { ...base, id: 4, settleCount: 0, outcome: undefined, settledMicros: undefined },
        { ...base, id: 5, outcome: { ok: false, code: 'INTERNAL', message: 'boom' } },
      ],
      [],
      out,
    );
    expect(out).toHaveLength(4);
    expect(out[0]).toMatch(/call 2 .* does not match/);
    expect(out[1]).toMatch(/call 3 .* past its 100ms deadline/);
    expect(out[2]).toMatch(/call 4 .* settled 0 times/);
    expect(out[3]).toMatch(/call 5 .* unexpected INTERNAL/);
  });

  it('flag a server-side handler aborted long after its deadline', () => {
    const out: string[] = [];
    checkHistory(
      [],
      [
        {
          callId: 9,
          timeoutMs: 50,
          receivedMicros: 0,
          abortedMicros: 80_000,
          reason: 'DEADLINE_EXCEEDED',
        },
      ],
      out,
    );
    expect(out[0]).toMatch(/aborted slow call 9 .* after its deadline/);
  });
});
