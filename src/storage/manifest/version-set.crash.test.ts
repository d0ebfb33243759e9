/**
 * Crash consistency of the manifest in the simulator: random edits (some concurrent), a crash
 * at a random disk event — mid-append, mid-fsync, mid-rollover, and sometimes again in the
 * middle of the recovery that follows — then recovery. The recovered state must equal the
 * state after the last acknowledged edit or after one of the edits still in flight: never
 * older than acknowledged, never a mix.
 *
 * Reproduce one seed with MANIFEST_CRASH_SEED=<seed> npx vitest run <this file>.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../../env/sim/index.js';
import { toHex } from '../../util/bytes.js';
import { Prng } from '../../util/prng.js';
import { parseFileName } from './file-meta.js';
import {
  ModelSet,
  randomValidEdit,
  summarize,
  type GeneratorState,
  type SetSummary,
} from './testdata/gen.js';
import { VersionSet, type VersionSetOptions } from './version-set.js';

const dir = '/db';
const onlySeed = process.env.MANIFEST_CRASH_SEED;
const seeds = onlySeed === undefined ? [...Array(200).keys()] : [Number(onlySeed)];
const editsPerRun = 60;
/** Small, so that rollovers (and crashes during them) are frequent; no table files are written. */
const options: VersionSetOptions = { manifestBytesMax: 900, verifyTables: false };

/** A canonical string of a summary, for comparing many candidates quickly. */
function canon(s: SetSummary): string {
  return JSON.stringify({
    levels: s.levels.map((files) =>
      files.map((f) => [
        f.fileNumber,
        f.level,
        f.size,
        f.entries,
        toHex(f.smallest),
        toHex(f.largest),
        f.smallestSeq,
        f.largestSeq,
      ]),
    ),
    logNumber: s.logNumber,
    lastSequence: s.lastSequence,
    compactPointers: s.compactPointers.map(([level, key]) => [level, toHex(key)]),
  });
}

describe('VersionSet crash consistency (simulator)', () => {
  it(`recovers an acknowledged-or-later state after crashes at random points (${seeds.length} seeds)`, async () => {
    const stats = {
      inFlightApplied: 0,
      inFlightLost: 0,
      nothingInFlight: 0,
      duringRollover: 0,
      duringRecovery: 0,
    };
    for (const seed of seeds) {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const prng = new Prng(seed * 7919 + 1);
      const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 3_600_000 });
      const vs = await run(VersionSet.create(node.env, dir, options));

      const states: string[] = [canon(summarize(vs))];
      let acked = 0;
      let driverError: unknown;
      const model = new ModelSet();
      const gen: GeneratorState = { version: model.current, lastSequence: 0 };
      void (async () => {
        let inFlight: Promise<void>[] = [];
        for (let i = 0; i < editsPerRun; i++) {
          const e = randomValidEdit(prng, gen, () => vs.newFileNumber());
          states.push(canon(model.apply(e)));
          gen.version = model.current;
          const index = states.length - 1;
          inFlight.push(
            vs.logAndApply(e).then(() => {
              expect(index).toBeGreaterThan(acked); // resolved in order
              acked = index;
            }),
          );
          if (inFlight.length >= 1 + prng.int(3)) {
            await Promise.all(inFlight);
            inFlight = [];
          }
        }
        await Promise.all(inFlight);
      })().catch((err: unknown) => (driverError = err));

      // A whole run takes about 150 disk events: most crashes land mid-run.
      await world.run({ maxEvents: prng.between(1, 170) });
      expect(driverError).toBeUndefined();
      const issued = states.length - 1;
      const names = [...node.disk.snapshot().keys()].map((p) => p.slice(dir.length + 1));
      const manifests = names.filter((n) => parseFileName(n)?.kind === 'manifest');
      if (manifests.length > 1 || names.some((n) => n.endsWith('.dbtmp'))) stats.duringRollover++;
      node.crash();
      node.restart();

      if (prng.chance(0.4)) {
        // Crash again while recovering (recovery writes a new manifest and switches CURRENT).
        let recoverError: unknown;
        VersionSet.recover(node.env, dir, options).catch((err: unknown) => (recoverError = err));
        await world.run({ maxEvents: prng.between(1, 12) });
        expect(recoverError).toBeUndefined();
        node.crash();
        node.restart();
        stats.duringRecovery++;
      }

      const back = await run(VersionSet.recover(node.env, dir, options));
      const got = canon(summarize(back));
      const match = states.indexOf(got, acked);
      if (match < 0 || match > issued) {
        throw new Error(
          `seed ${seed}: recovered state matches none of edits ${acked}..${issued} ` +
            `(acknowledged..issued); it matches edit ${states.indexOf(got)}`,
        );
      }
      if (issued === acked) stats.nothingInFlight++;
      else if (match === acked) stats.inFlightLost++;
      else stats.inFlightApplied++;

      // No file number on disk or in the version is ever handed out again.
      for (const p of node.disk.snapshot().keys()) {
        const parsed = parseFileName(p.slice(dir.length + 1));
        if (parsed !== undefined) expect(back.nextFileNumber).toBeGreaterThan(parsed.number);
      }

      if (seed % 5 === 0) {
        // The recovered set works on: more edits, a clean restart, the same state.
        const model2 = new ModelSet();
        model2.current = back.current;
        model2.logNumber = back.logNumber;
        model2.lastSequence = back.lastSequence;
        model2.compactPointers = new Map(back.compactPointers);
        const gen2: GeneratorState = { version: back.current, lastSequence: back.lastSequence };
        for (let i = 0; i < 10; i++) {
          const e = randomValidEdit(prng, gen2, () => back.newFileNumber());
          model2.apply(e);
          gen2.version = model2.current;
          await run(back.logAndApply(e));
        }
        await run(back.deleteObsoleteFiles());
        await run(back.close());
        node.crash();
        node.restart();
        const again = await run(VersionSet.recover(node.env, dir, options));
        expect(canon(summarize(again))).toBe(canon(summarize(model2)));
      }
    }
    if (onlySeed === undefined) {
      // Each kind of crash must actually happen, or the test proves little.
      expect(stats.inFlightApplied).toBeGreaterThan(10);
      expect(stats.inFlightLost).toBeGreaterThan(10);
      expect(stats.nothingInFlight).toBeGreaterThan(10);
      expect(stats.duringRollover).toBeGreaterThan(20);
      expect(stats.duringRecovery).toBeGreaterThan(40);
    }
  });
});
