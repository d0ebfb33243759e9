import { describe, expect, it } from 'vitest';
import {
  FIELD_NAMES,
  OP_KINDS,
  WORKLOAD_NAMES,
  WORKLOADS,
  WorkloadStream,
  type OpKind,
  type YcsbOp,
} from './workloads.js';

const draws = 100_000;

function mix(name: (typeof WORKLOAD_NAMES)[number]) {
  const stream = new WorkloadStream(WORKLOADS[name], {
    records: 1000,
    operations: draws,
    seed: 42,
  });
  const counts = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
  const ops: YcsbOp[] = [];
  for (let i = 0; i < draws; i++) {
    const op = stream.nextOp();
    counts[op.kind]++;
    stream.acknowledge(op);
    if (i < 2000) ops.push(op);
  }
  return { counts, ops };
}

describe('YCSB core workloads', () => {
  it.each(WORKLOAD_NAMES)('workload %s draws its operation mix within 1%%', (name) => {
    const { counts } = mix(name);
    for (const kind of OP_KINDS) {
      expect(Math.abs(counts[kind] / draws - WORKLOADS[name].proportions[kind])).toBeLessThan(0.01);
    }
  });

  it('updates write one field, inserts all ten, every value 100 bytes', () => {
    for (const op of mix('a').ops) {
      if (op.kind === 'update') {
        expect(op.values.size).toBe(1);
        expect(FIELD_NAMES).toContain([...op.values.keys()][0]);
      }
    }
    for (const op of mix('d').ops) {
      if (op.kind === 'insert') {
        expect([...op.values.keys()]).toEqual(FIELD_NAMES);
        for (const v of op.values.values()) expect(v.length).toBe(100);
      }
    }
  });

  it('E scans 1..100 rows', () => {
    const lengths = mix('e')
      .ops.filter((op) => op.kind === 'scan')
      .map((op) => (op.kind === 'scan' ? op.count : 0));
    expect(Math.min(...lengths)).toBe(1);
    expect(Math.max(...lengths)).toBe(100);
  });

  it('the load phase inserts keys 0.. in turn with every field', () => {
    const stream = new WorkloadStream(WORKLOADS.c, { records: 10, operations: 0, seed: 1 });
    const first = stream.loadOp();
    expect(first.keynum).toBe(0);
    expect(first.key).toBe('user6284781860667377211');
    expect(first.values.size).toBe(10);
    expect(stream.loadOp().keynum).toBe(1);
  });

  it('is reproducible from its seed', () => {
    const keys = (seed: number) => {
      const s = new WorkloadStream(WORKLOADS.b, { records: 1000, operations: 100, seed });
      return Array.from({ length: 100 }, () => s.nextOp()).map((op) => `${op.kind}:${op.key}`);
    };
    expect(keys(3)).toEqual(keys(3));
    expect(keys(3)).not.toEqual(keys(4));
  });

  it('D reads only keys that exist and favours new inserts', () => {
    const stream = new WorkloadStream(WORKLOADS.d, { records: 1000, operations: draws, seed: 8 });
    const inserted = new Set<string>();
    for (let i = 0; i < 1000; i++) inserted.add(stream.loadOp().key);
    const loaded = new Set(inserted);
    let readsOfNew = 0;
    let reads = 0;
    for (let i = 0; i < 20_000; i++) {
      const op = stream.nextOp();
      if (op.kind === 'insert') {
        inserted.add(op.key);
        stream.acknowledge(op);
      } else {
        expect(inserted.has(op.key)).toBe(true);
        reads++;
        if (!loaded.has(op.key)) readsOfNew++;
      }
    }
    expect(reads).toBeGreaterThan(0);
    expect(readsOfNew).toBeGreaterThan(100);
  });
});
