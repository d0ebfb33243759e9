import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { assert } from '../util/assert.js';
import { isTesseraError } from '../util/errors.js';
import { RpcClient } from './client.js';
import { RpcServer } from './server.js';

describe('a handler that breaks an invariant', () => {
  it('answers its caller with ASSERTION_FAILED, then stops the server process', async () => {
    const world = new SimWorld({ seed: 5 });
    const server = world.addNode('s');
    const client = world.addNode('c');
    server.start(async (env) => {
      const rpc = new RpcServer(env);
      rpc.handle('broken', () => assert(false, 'planted broken invariant'));
      rpc.handle('fine', () => 'ok');
      await rpc.listen({ host: 's', port: 7000 });
    });
    await world.runFor(10);
    const rpc = await world.settle(RpcClient.connect(client.env, { host: 's', port: 7000 }));
    expect(await world.settle(rpc.call('fine'))).toBe('ok');
    let error: unknown;
    try {
      await world.settle(rpc.call('broken', null, { timeoutMs: 1000 }));
    } catch (err) {
      error = err;
    }
    expect(isTesseraError(error, 'ASSERTION_FAILED')).toBe(true);
    await world.runFor(50);
    expect(server.alive).toBe(false);
    expect(world.nodeErrors.map((e) => e.node)).toEqual(['s']);
  });
});
