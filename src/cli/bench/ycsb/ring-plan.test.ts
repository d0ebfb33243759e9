import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../../util/errors.js';
import { planRun, RING1, ringDescription, type RunFlags } from './ring-plan.js';

function rejection(flags: RunFlags): string {
  try {
    planRun(flags);
  } catch (err) {
    expect(isTesseraError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`planRun accepted ${JSON.stringify(flags)}`);
}

describe('planRun', () => {
  it('runs one node with no comparison when no flag asks for more', () => {
    expect(planRun({ workload: 'a' })).toEqual({});
    expect(planRun({ workload: 'e', compare: ['redis'] })).toEqual({ compare: 'redis' });
  });

  it('gives a ring RF min(3, n) and QUORUM unless told otherwise', () => {
    expect(planRun({ workload: 'a', ring: 3 }).ring).toEqual({
      nodes: 3,
      replicationFactor: 3,
      consistency: 'QUORUM',
    });
    expect(planRun({ workload: 'b', ring: 5 }).ring?.replicationFactor).toBe(3);
    expect(planRun({ workload: 'c', ring: 2 }).ring?.replicationFactor).toBe(2);
    expect(planRun({ workload: 'c', ring: 1 }).ring?.replicationFactor).toBe(1);
    expect(
      planRun({ workload: 'a', ring: 5, replication: 5, consistency: 'all', compare: ['ring1'] }),
    ).toEqual({
      compare: 'ring1',
      ring: { nodes: 5, replicationFactor: 5, consistency: 'ALL' },
    });
  });

  it('rejects workload E on a ring and against ring1, saying that hashed tables cannot scan', () => {
    for (const flags of [
      { workload: 'e', ring: 3 },
      { workload: 'e', compare: ['ring1'] },
    ] as const) {
      expect(rejection(flags)).toMatch(/workload E scans.*cannot scan/);
    }
  });

  it('allows one --compare, of a known system', () => {
    expect(rejection({ workload: 'a', compare: ['redis', 'ring1'] })).toMatch(/one system, not 2/);
    expect(rejection({ workload: 'a', compare: ['ring2'] })).toMatch(/'redis' or 'ring1'/);
  });

  it('rejects ring options without --ring, and --ring with --target', () => {
    expect(rejection({ workload: 'a', replication: 3 })).toMatch(/--replication needs --ring/);
    expect(rejection({ workload: 'a', consistency: 'ONE' })).toMatch(/--consistency needs --ring/);
    expect(rejection({ workload: 'a', ring: 3, target: 'tessera://127.0.0.1:7701' })).toMatch(
      /--target/,
    );
  });

  it('rejects a ring size, replication factor or level the ring cannot have', () => {
    expect(rejection({ workload: 'a', ring: 0 })).toMatch(/--ring/);
    expect(rejection({ workload: 'a', ring: 17 })).toMatch(/--ring: 1 to 16/);
    expect(rejection({ workload: 'a', ring: 3, replication: 4 })).toMatch(/needs at least 4/);
    expect(rejection({ workload: 'a', ring: 2, consistency: 'THREE' })).toMatch(
      /--consistency THREE at --replication 2/,
    );
    expect(rejection({ workload: 'a', ring: 3, consistency: 'most' })).toMatch(/--consistency/);
  });
});

describe('ringDescription', () => {
  it('names the node count, RF, level and durability', () => {
    expect(ringDescription({ nodes: 3, replicationFactor: 3, consistency: 'QUORUM' })).toBe(
      '3-node tessera ring on loopback, RF=3, QUORUM, WAL fsync before every acknowledgement',
    );
    expect(ringDescription(RING1)).toMatch(/^1-node tessera ring on loopback, RF=1, QUORUM/);
  });
});
