/**
 * `tessera bench ring-growth` — how much data moves when a ring grows by one node, measured on
 * the simulator (src/sim/ring-growth.ts): N nodes hold a hashed table at RF 3, an (N+1)th
 * bootstraps, and the rows it streamed are compared with 1/(N+1) of every replica stored.
 * Deterministic for a seed. Results go to docs/benchmarks.md.
 */
import { Command } from 'commander';
import { measureRingGrowth, type GrowthResult } from '../../sim/ring-growth.js';

interface Options {
  nodes: string;
  rowsPerNode: number;
  vnodes: number;
  seed: number;
  json?: boolean;
}

export function ringGrowthBenchCommand(): Command {
  return new Command('ring-growth')
    .description('data moved when an (N+1)th node joins a simulated ring, against 1/(N+1)')
    .option('--nodes <list>', 'ring sizes N before the join', '3,10,100')
    .option('--rows-per-node <n>', 'rows loaded per node before the join', (v) => Number(v), 600)
    .option('--vnodes <n>', 'tokens per node', (v) => Number(v), 64)
    .option('--seed <n>', 'simulation seed', (v) => Number(v), 1)
    .option('--json', 'print results as JSON')
    .action(async (opts: Options) => {
      const results: GrowthResult[] = [];
      for (const n of opts.nodes.split(',').map((x) => Number(x.trim()))) {
        const started = performance.now();
        const r = await measureRingGrowth({
          seed: opts.seed,
          nodes: n,
          rows: Math.max(1000, n * opts.rowsPerNode),
          vnodes: opts.vnodes,
        });
        results.push(r);
        if (opts.json !== true) {
          process.stdout.write(
            `N=${n}: ${r.rows} rows (${r.replicas} replicas); the new node streamed ${r.moved} ` +
              `= ${(r.fraction * 100).toFixed(2)}% vs 1/(N+1) = ${(r.expected * 100).toFixed(2)}% ` +
              `(ratio ${r.ratio.toFixed(3)}); exactly its ranges: ${r.exact ? 'yes' : 'NO'}; ` +
              `joined in ${r.joinSeconds.toFixed(1)} simulated s ` +
              `(${((performance.now() - started) / 1000).toFixed(1)} s to simulate)\n`,
          );
        }
      }
      if (opts.json === true) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    });
}
