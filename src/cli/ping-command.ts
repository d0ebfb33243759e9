import { Command } from 'commander';
import type { PingReply } from '../api/index.js';
import { formatAddress, parseAddress } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import { RpcClient } from '../wire/index.js';

/** `tessera ping HOST:PORT` — checks that a process answers, and how fast. */
export function pingCommand(): Command {
  return new Command('ping')
    .description('ping a Tessera process over the native protocol')
    .argument('<address>', 'host:port')
    .option('--count <n>', 'number of pings', (v) => Number(v), 1)
    .option('--timeout <ms>', 'per-ping timeout in milliseconds', (v) => Number(v), 2000)
    .action(async (target: string, opts: { count: number; timeout: number }) => {
      const env = realEnv({ name: 'ping', root: process.cwd() });
      const address = parseAddress(target);
      const client = await RpcClient.connect(env, address, { timeoutMs: opts.timeout });
      try {
        for (let i = 0; i < opts.count; i++) {
          const t0 = env.clock.monoMicros();
          const reply = (await client.call('ping', null, { timeoutMs: opts.timeout })) as PingReply;
          const rtt = (env.clock.monoMicros() - t0) / 1000;
          process.stdout.write(
            `pong from ${reply.name} (${reply.role}) at ${formatAddress(address)}: ${rtt.toFixed(3)} ms\n`,
          );
        }
      } finally {
        await client.close();
      }
    });
}
