/**
 * `tessera bench ring-scale` — the ring's scale figures, by simulation (no processes, no
 * network): how many gossip rounds a cluster of N nodes takes to converge from scratch and to
 * spread one change (src/ring/gossip-convergence.ts), and how evenly random virtual-node tokens
 * share the ring (max ÷ mean owned share, src/ring/token-ring.ts). Deterministic: seeds 1..runs
 * for convergence, 1001.. for a change, 1..runs for balance. Results go to docs/benchmarks.md.
 */
import { Command } from 'commander';
import {
  convergenceRounds,
  disseminationRounds,
  effectiveOwnership,
  randomTokens,
  TokenRing,
  VNODES_DEFAULT,
} from '../../ring/index.js';
import { Prng } from '../../util/prng.js';

interface Options {
  nodes: string;
  vnodes: string;
  runs: number;
  loss: number;
  json?: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const list = (v: string) => v.split(',').map((x) => Number(x.trim()));

export function ringScaleBenchCommand(): Command {
  return new Command('ring-scale')
    .description('gossip convergence rounds and token balance of simulated rings')
    .option('--nodes <list>', 'cluster sizes', '10,100,1000')
    .option(
      '--vnodes <list>',
      'virtual nodes per node for the balance table',
      `1,16,${VNODES_DEFAULT},256`,
    )
    .option('--runs <n>', 'seeds per figure', (v) => Number(v), 10)
    .option('--loss <p>', 'message loss rate for gossip', (v) => Number(v), 0)
    .option('--json', 'print results as JSON')
    .action((opts: Options) => {
      const sizes = list(opts.nodes);
      const gossip = sizes.map((n) => {
        const seeds = n >= 10 ? 3 : 1;
        const from: number[] = [];
        const change: number[] = [];
        for (let s = 1; s <= opts.runs; s++) {
          const base = { nodes: n, seeds, lossRate: opts.loss };
          from.push(convergenceRounds({ ...base, random: new Prng(s) }).rounds);
          change.push(disseminationRounds({ ...base, random: new Prng(1000 + s) }).rounds);
        }
        return {
          nodes: n,
          seeds,
          loss: opts.loss,
          convergeRounds: median(from),
          changeRounds: median(change),
          log2: Math.log2(n),
        };
      });
      const balance = sizes.flatMap((n) =>
        list(opts.vnodes).map((v) => {
          const primary: number[] = [];
          const effective: number[] = [];
          for (let s = 1; s <= opts.runs; s++) {
            const random = new Prng(s);
            const ring = TokenRing.of(
              Array.from({ length: n }, (_, i) => ({
                id: `n${i}`,
                tokens: randomTokens(random, v),
                datacenter: 'dc1',
                rack: 'rack1',
              })),
            );
            primary.push(ring.balance());
            const eff = [
              ...effectiveOwnership(ring, { kind: 'simple', replicationFactor: 3 }).values(),
            ];
            effective.push(Math.max(...eff) / (eff.reduce((a, b) => a + b, 0) / eff.length));
          }
          const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
          return { nodes: n, vnodes: v, balance: mean(primary), balanceRf3: mean(effective) };
        }),
      );
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify({ runs: opts.runs, gossip, balance }, null, 2)}\n`);
        return;
      }
      const out = [`gossip (medians over ${opts.runs} seeds, loss ${opts.loss}):`];
      out.push('  nodes  seeds  converge-rounds  change-rounds  log2(N)');
      for (const g of gossip) {
        out.push(
          `  ${String(g.nodes).padStart(5)}  ${String(g.seeds).padStart(5)}  ${String(g.convergeRounds).padStart(15)}  ${String(g.changeRounds).padStart(13)}  ${g.log2.toFixed(1).padStart(7)}`,
        );
      }
      out.push(`ring balance, max ÷ mean share (means over ${opts.runs} seeds):`);
      out.push('  nodes  vnodes  primary  effective-RF3');
      for (const b of balance) {
        out.push(
          `  ${String(b.nodes).padStart(5)}  ${String(b.vnodes).padStart(6)}  ${b.balance.toFixed(2).padStart(7)}  ${b.balanceRf3.toFixed(2).padStart(13)}`,
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
