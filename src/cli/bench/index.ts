import { Command } from 'commander';
import { lockBenchCommand } from './lock-bench.js';
import { repairBenchCommand } from './repair-bench.js';
import { ringGrowthBenchCommand } from './ring-growth.js';
import { ringScaleBenchCommand } from './ring-scale.js';
import { rpcBenchCommand } from './rpc-bench.js';
import { storageBenchCommand } from './storage-bench.js';
import { ycsbBenchCommand } from './ycsb-command.js';

/** `tessera bench <workload>` — benchmarks never run inside tests; results go to docs/benchmarks.md. */
export function benchCommand(): Command {
  return new Command('bench')
    .description('run a benchmark (see docs/benchmarks.md for recorded figures)')
    .addCommand(rpcBenchCommand())
    .addCommand(storageBenchCommand())
    .addCommand(lockBenchCommand())
    .addCommand(ycsbBenchCommand())
    .addCommand(ringScaleBenchCommand())
    .addCommand(ringGrowthBenchCommand())
    .addCommand(repairBenchCommand());
}
