import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { startNodeService } from '../api/index.js';
import { formatAddress, parseAddress } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import { logEvent } from './log.js';

/**
 * `tessera node --listen HOST:PORT --dir DIR` — one serving node as a real process.
 * On start it prints one JSON line to stdout, `{"event":"ready","address":"…","pid":…}`,
 * which `tessera local` and tests wait for; it stops cleanly on SIGTERM or SIGINT.
 */
export function nodeCommand(): Command {
  return new Command('node')
    .description('run a serving node (native protocol)')
    .option('--listen <address>', 'address to listen on (port 0 picks one)', '127.0.0.1:7701')
    .option('--dir <path>', 'data directory', './data/node')
    .option('--name <name>', 'node name for logs and ping', 'node')
    .action(async (opts: { listen: string; dir: string; name: string }) => {
      const dir = resolve(opts.dir);
      mkdirSync(dir, { recursive: true });
      const env = realEnv({ name: opts.name, root: dir });
      const node = await startNodeService(env, {
        name: opts.name,
        listen: parseAddress(opts.listen),
      });
      const address = formatAddress(node.address);
      process.stdout.write(`${JSON.stringify({ event: 'ready', address, pid: process.pid })}\n`);
      logEvent(opts.name, 'ready', { address, dir });
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          logEvent(opts.name, 'stopping', { signal });
          node.close().then(done, done);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      logEvent(opts.name, 'stopped');
    });
}
