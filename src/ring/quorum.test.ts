import { describe, expect, it } from 'vitest';
import { requirementFor, countingReplicas } from './consistency.js';
import { QuorumTracker, unavailableError } from './quorum.js';
import type { ReplicationStrategy } from './replication.js';
import { expectInvalid } from '../util/testing/expect-invalid.js';

describe('consistency requirements', () => {
  const simple: ReplicationStrategy = { kind: 'simple', replicationFactor: 3 };
  const network: ReplicationStrategy = { kind: 'network', datacenters: { east: 3, west: 2 } };

  it('counts as Cassandra does', () => {
    const req = (
      level: Parameters<typeof requirementFor>[0],
      s: ReplicationStrategy = simple,
      dc = 'east',
    ) => requirementFor(level, s, dc);
    expect(req('ONE')).toEqual({ required: 1, datacenter: undefined });
    expect(req('TWO').required).toBe(2);
    expect(req('THREE').required).toBe(3);
    expect(req('QUORUM').required).toBe(2);
    expect(req('ALL').required).toBe(3);
    // With the simple strategy every replica is local.
    expect(req('LOCAL_QUORUM')).toEqual({ required: 2, datacenter: undefined });
    // QUORUM counts every datacenter: floor(5 / 2) + 1.
    expect(req('QUORUM', network)).toEqual({ required: 3, datacenter: undefined });
    expect(req('ALL', network).required).toBe(5);
    expect(req('LOCAL_QUORUM', network, 'east')).toEqual({ required: 2, datacenter: 'east' });
    expect(req('LOCAL_QUORUM', network, 'west')).toEqual({ required: 2, datacenter: 'west' });
    expect(req('LOCAL_ONE', network, 'west')).toEqual({ required: 1, datacenter: 'west' });
  });

  it('refuses a level no ring could meet', () => {
    expectInvalid(() => requirementFor('THREE', { kind: 'simple', replicationFactor: 2 }, 'x'));
    expectInvalid(() => requirementFor('LOCAL_ONE', network, 'north'));
  });

  it('counts only the local datacenter for LOCAL levels', () => {
    const replicas = [
      { id: 'a', datacenter: 'east' },
      { id: 'b', datacenter: 'west' },
      { id: 'c', datacenter: 'east' },
    ];
    expect(
      countingReplicas(replicas, { required: 1, datacenter: 'east' }).map((r) => r.id),
    ).toEqual(['a', 'c']);
    expect(countingReplicas(replicas, { required: 2, datacenter: undefined })).toHaveLength(3);
  });
});

describe('QuorumTracker', () => {
  it('is met once enough counting replicas answered', () => {
    const t = new QuorumTracker(2, new Set(['a', 'b', 'c']));
    expect(t.success('a')).toBe('pending');
    expect(t.success('a')).toBe('pending'); // a duplicate answer counts once
    expect(t.success('x')).toBe('pending'); // not counting
    expect(t.success('b')).toBe('met');
    expect(t.acknowledged).toBe(2);
  });

  it('is impossible once too many counting replicas failed', () => {
    const t = new QuorumTracker(2, new Set(['a', 'b', 'c']));
    expect(t.failure('a', 'CONNECTION_REFUSED')).toBe('pending');
    expect(t.failure('x', 'CONNECTION_REFUSED')).toBe('pending'); // not counting
    expect(t.success('b')).toBe('pending');
    expect(t.failure('c', 'DEADLINE_EXCEEDED')).toBe('impossible');
    const e = t.timeoutError('write of row 01', 'QUORUM', undefined);
    expect(e.code).toBe('REPLICA_TIMEOUT');
    expect(e.message).toBe(
      'Timeout: write of row 01 at QUORUM needed 2 replica(s), 1 answered; ' +
        'missing: a (CONNECTION_REFUSED), c (DEADLINE_EXCEEDED)',
    );
    expect(e.details).toMatchObject({ required: 2, received: 1 });
  });

  it('names silent replicas and the wait in a timeout', () => {
    const t = new QuorumTracker(3, new Set(['a', 'b', 'c']));
    t.success('b');
    expect(t.timeoutError('read', 'ALL', 2000).message).toBe(
      'Timeout: read at ALL needed 3 replica(s), 1 answered within 2000 ms; ' +
        'missing: a (no answer), c (no answer)',
    );
  });

  it('says who is alive and who is down when unavailable', () => {
    const e = unavailableError('write', 'ALL', 3, ['a', 'b'], ['c']);
    expect(e.code).toBe('REPLICAS_UNAVAILABLE');
    expect(e.message).toBe('Unavailable: write at ALL needs 3 replica(s), 2 alive (a, b); down: c');
  });
});
