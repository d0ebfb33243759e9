import { describe, expect, it } from 'vitest';
import { utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { MessageTag, decodeMessage, encodeMessage } from './codec.js';
import type { Entry, Message, MessageKind } from './types.js';

function entries(rng: Prng): Entry[] {
  const kinds = ['normal', 'config', 'noop'] as const;
  const out: Entry[] = [];
  const n = rng.int(4);
  for (let i = 0; i < n; i++) {
    out.push({ index: 10 + i, term: 3, kind: kinds[rng.int(3)]!, data: rng.bytes(rng.int(20)) });
  }
  return out;
}

function sample(kind: MessageKind, rng: Prng): Message {
  const h = { from: 1 + rng.int(5), to: 1 + rng.int(5), term: rng.int(1_000_000) };
  const ctx = rng.int(2) === 0 ? undefined : `ctx-${rng.int(100)}-é`;
  switch (kind) {
    case 'vote':
      return { ...h, kind, lastIndex: 2 ** 40, lastTerm: 7, transfer: rng.int(2) === 1 };
    case 'pre-vote':
      return { ...h, kind, lastIndex: 9, lastTerm: 7 };
    case 'vote-response':
    case 'pre-vote-response':
      return { ...h, kind, reject: rng.int(2) === 1 };
    case 'append':
      return { ...h, kind, prevIndex: 9, prevTerm: 2, commit: 8, entries: entries(rng) };
    case 'append-response':
      return { ...h, kind, reject: true, index: 12, hintIndex: 4, hintTerm: 1 };
    case 'heartbeat':
      return { ...h, kind, commit: 5, ctx };
    case 'heartbeat-response':
      return { ...h, kind, ctx };
    case 'install-snapshot':
      return {
        ...h,
        kind,
        snapshot: { meta: { index: 50, term: 4, config: { voters: [1, 2, 3] } }, data: utf8('s') },
      };
    case 'install-snapshot-response':
      return { ...h, kind, index: 50 };
    case 'timeout-now':
      return { ...h, kind };
    case 'read-index':
      return { ...h, kind, ctx: ctx ?? 'r' };
    case 'read-index-response':
      return { ...h, kind, ctx: ctx ?? 'r', index: 77 };
  }
}

const kinds = Object.keys(MessageTag) as MessageKind[];

describe('message codec', () => {
  it('round-trips every kind', () => {
    const rng = new Prng(7);
    for (const kind of kinds) {
      for (let i = 0; i < 20; i++) {
        const m = sample(kind, rng);
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }
    }
  });

  it('has a distinct frozen tag per kind', () => {
    expect(new Set(Object.values(MessageTag)).size).toBe(kinds.length);
    expect(MessageTag.vote).toBe(1);
    expect(MessageTag['read-index-response']).toBe(13);
  });

  it('rejects truncations, trailing bytes and unknown tags with CORRUPTION', () => {
    const rng = new Prng(8);
    for (const kind of kinds) {
      const bytes = encodeMessage(sample(kind, rng));
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(() => decodeMessage(bytes.subarray(0, cut))).toThrow(/truncated|bad|unknown/);
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expect(() => decodeMessage(longer)).toThrow(/trailing/);
    }
    expect(() => decodeMessage(Uint8Array.of(1, 99, 1, 1, 1))).toThrow(/unknown message tag/);
    expect(() => decodeMessage(Uint8Array.of(2, 1, 1, 1, 1))).toThrow(/version/);
  });

  it('fuzz: random and mutated inputs decode or throw CORRUPTION, nothing else', () => {
    const rng = new Prng(9);
    const valid = kinds.map((k) => encodeMessage(sample(k, rng)));
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = rng.bytes(rng.int(40));
        if (input.length > 0) input[0] = 1;
      } else {
        input = valid[rng.int(valid.length)]!.slice();
        for (let flips = 1 + rng.int(3); flips > 0 && input.length > 0; flips--) {
          input[rng.int(input.length)] = rng.int(256);
        }
      }
      try {
        const m = decodeMessage(input);
        decoded++;
        // Whatever decodes re-encodes to a message that decodes the same.
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      } catch (err) {
        if (!isTesseraError(err, 'CORRUPTION')) throw err;
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });
});
