/**
 * The real Env: Tessera's Env interface mapped onto Node. The only code (with the CLI's
 * start-up) allowed to touch Node's clocks, timers, files and sockets.
 */
import { invalidArgument } from '../../util/errors.js';
import type { Env } from '../types.js';
import { RealClock } from './clock.js';
import { RealFileSystem } from './fs.js';
import { RealNetwork } from './net.js';
import { realRandom } from './random.js';
import { RealTimers } from './timers.js';

export { RealClock, monoMicros } from './clock.js';
export { RealConnection } from './connection.js';
export { DATAGRAM_BYTES_MAX, RealDatagramSocket } from './datagram.js';
export { RealFile } from './file.js';
export { RealFileSystem } from './fs.js';
export { RealListener, RealNetwork } from './net.js';
export { entropySeed, realRandom } from './random.js';
export { RealTimers } from './timers.js';
export { makeTempRoot, removeTempRoot } from './temp-root.js';
export { yieldToMacrotask } from './yield.js';

export interface RealEnvOptions {
  /** Name for logs and traces; defaults to `pid-<process id>`. */
  readonly name?: string;
  /** The data directory the file system is rooted at. It is not created here. */
  readonly root: string;
  /** Seeds env.random for repeatable choices; defaults to operating-system entropy. */
  readonly seed?: number;
}

export function realEnv(options: RealEnvOptions): Env {
  if (typeof options.root !== 'string' || options.root === '') {
    throw invalidArgument('realEnv needs a root directory');
  }
  return {
    name: options.name ?? `pid-${process.pid}`,
    clock: new RealClock(),
    timers: new RealTimers(),
    random: realRandom(options.seed),
    fs: new RealFileSystem(options.root),
    net: new RealNetwork(),
  };
}
