import { Command } from 'commander';
import { benchCommand } from './bench/index.js';
import { checkCommand } from './check-command.js';
import { execCommand } from './exec-command.js';
import { localCommand } from './local-command.js';
import { lockCommand } from './lock-command.js';
import { nodeCommand } from './node-command.js';
import { pingCommand } from './ping-command.js';
import { repairCommand } from './repair-command.js';
import { decommissionCommand, removenodeCommand } from './ring-admin-command.js';
import { ringCommand } from './ring-command.js';
import { shellCommand } from './shell-command.js';
import { simCommand } from './sim-command.js';

export const VERSION = '0.1.0';

/** Entry point of the `tessera` command; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number | undefined> {
  const program = new Command('tessera')
    .description('Tessera: a wide-column store with ordered (BigTable) and hashed (Dynamo) tables')
    .version(VERSION)
    .showHelpAfterError()
    .addCommand(localCommand())
    .addCommand(nodeCommand())
    .addCommand(lockCommand())
    .addCommand(pingCommand())
    .addCommand(ringCommand())
    .addCommand(repairCommand())
    .addCommand(decommissionCommand())
    .addCommand(removenodeCommand())
    .addCommand(simCommand())
    .addCommand(benchCommand())
    .addCommand(checkCommand())
    .addCommand(shellCommand())
    .addCommand(execCommand());
  await program.parseAsync([...argv]);
  return undefined;
}
