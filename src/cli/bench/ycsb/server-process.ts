/**
 * What the YCSB benchmark does with the servers it starts itself (a tessera node, a
 * redis-server): read their peak memory, and stop them and remove their data directory.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** VmHWM of a live process in KiB, from /proc (Linux); undefined when unreadable. */
export function peakRssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERMs the server (unless it is gone already), waits for it, then removes `dir`. */
export function stopServer(proc: ChildProcess, dir: string): Promise<void> {
  return new Promise<void>((done) => {
    const finish = () => {
      rmSync(dir, { recursive: true, force: true });
      done();
    };
    if (proc.exitCode !== null || proc.signalCode !== null) return finish();
    proc.once('exit', finish);
    proc.kill('SIGTERM');
  });
}
