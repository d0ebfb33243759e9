import { describe, expect, it } from 'vitest';
import { trackedServers, trackServer } from './spawned-servers.js';

describe('trackServer', () => {
  it('stops a server once however often its stop is called, and then forgets it', async () => {
    const before = trackedServers();
    let stops = 0;
    let release!: () => void;
    const stop = trackServer(
      () =>
        new Promise<void>((done) => {
          stops++;
          release = done;
        }),
    );
    expect(trackedServers()).toBe(before + 1);
    const first = stop();
    const second = stop();
    expect(stops).toBe(1);
    // Still tracked while it stops: a signal now waits for the same stop.
    expect(trackedServers()).toBe(before + 1);
    release();
    await Promise.all([first, second]);
    expect(trackedServers()).toBe(before);
    await stop();
    expect(stops).toBe(1);
  });

  it('forgets a server whose stop failed', async () => {
    const before = trackedServers();
    const stop = trackServer(() => Promise.reject(new Error('gone')));
    await expect(stop()).rejects.toThrow('gone');
    expect(trackedServers()).toBe(before);
  });
});
