/**
 * The checker against every recorded history in shared/histories (copied to
 * testdata/histories), whose verdicts are known (verdicts.json).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkHistoryText, findModel, type Verdict } from './index.js';

// A copy of shared/histories (recorded Jepsen etcd logs and EDN kv histories with their known
// verdicts), kept in the repository so CI on any clone checks the checker against them.
const ROOT = fileURLToPath(new URL('./testdata/histories/', import.meta.url));
const PRESENT = existsSync(`${ROOT}verdicts.json`);
// Every history here is small (the hardest takes about a million steps); the budget still
// bounds a regression.
const MAX_STEPS_PER_FILE = 10_000_000;
const TOTAL_MS_MAX = 30_000;

describe('recorded histories (shared/histories)', () => {
  it('are in the repository', () => {
    expect(PRESENT, `${ROOT}verdicts.json`).toBe(true);
  });

  const verdicts = PRESENT
    ? (JSON.parse(readFileSync(`${ROOT}verdicts.json`, 'utf8')) as Record<string, boolean>)
    : {};

  it('has a verdict for every history file', () => {
    const files = ['jepsen-etcd', 'kv'].flatMap((dir) =>
      readdirSync(`${ROOT}${dir}`).map((name) => `${dir}/${name}`),
    );
    expect(files.sort()).toEqual(Object.keys(verdicts).sort());
  });

  it('gives every known verdict', () => {
    const started = performance.now();
    const mismatches: string[] = [];
    const counts = { linearizable: 0, 'not-linearizable': 0, unknown: 0 } satisfies Record<
      Verdict,
      number
    >;
    for (const [file, expected] of Object.entries(verdicts)) {
      const model = findModel(file.startsWith('kv/') ? 'kv' : 'register')!;
      const text = readFileSync(`${ROOT}${file}`, 'utf8');
      const result = checkHistoryText(model, text, {
        maxSteps: MAX_STEPS_PER_FILE,
      });
      counts[result.verdict]++;
      const want: Verdict = expected ? 'linearizable' : 'not-linearizable';
      if (result.verdict !== want) mismatches.push(`${file}: want ${want}, got ${result.verdict}`);
      if (result.verdict === 'not-linearizable') {
        const f = result.failure!;
        expect(f.minimized, file).toBe(true);
        expect(f.window, file).toContain(f.failed);
      }
    }
    const ms = performance.now() - started;
    console.log(
      `shared/histories: ${Object.keys(verdicts).length} histories, ` +
        `${Object.keys(verdicts).length - mismatches.length} matched ` +
        `(${counts.linearizable} linearizable, ${counts['not-linearizable']} not, ` +
        `${counts.unknown} unknown) in ${ms.toFixed(0)} ms`,
    );
    expect(mismatches).toEqual([]);
    expect(ms).toBeLessThan(TOTAL_MS_MAX);
  });
});
