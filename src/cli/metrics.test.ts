/**
 * Metrics end to end: an RpcServer, a Store and a Raft status feed one registry, served over
 * HTTP on port 0 and read back with node's http client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import { Store, WriteBatch } from '../storage/index.js';
import { utf8 } from '../util/bytes.js';
import { RpcClient, RpcServer } from '../wire/index.js';
import {
  createRegistry,
  raftMetrics,
  rpcMetrics,
  startMetricsServer,
  storeMetrics,
  type RaftSample,
} from './metrics.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fetchText(
  url: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (method === 'GET' ? get : request)(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    if (method !== 'GET') req.end();
  });
}

/**
 * Sample lines `name{labels} value` as a map from `name{labels}` to value, the labels sorted by
 * name (the exposition format leaves their order free).
 */
function parse(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(normalize(line.slice(0, cut)), Number(line.slice(cut + 1)));
  }
  return out;
}

function normalize(series: string): string {
  const open = series.indexOf('{');
  if (open < 0) return series;
  const labels = series.slice(open + 1, -1).match(/[a-z_]+="(?:[^"\\]|\\.)*"/g) ?? [];
  return `${series.slice(0, open)}{${labels.sort().join(',')}}`;
}

describe('metrics', () => {
  it('serves rpc, store and raft metrics at /metrics, 404 elsewhere', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-metrics-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const env = realEnv({ name: 'metrics-test', root });
    const registry = createRegistry('node1');

    // RPC
    const server = new RpcServer(env, { observer: rpcMetrics(registry) });
    server.handle('echo', (a) => a);
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => server.close({ drainTimeoutMs: 0 }));
    const client = await RpcClient.connect(env, address);
    cleanups.push(() => client.close());
    for (let i = 0; i < 3; i++) await client.call('echo', i);
    await client.call('nope').catch(() => undefined);

    // Storage
    // The hook must exist before the store opens, and the samples read stores opened later.
    const open: Store[] = [];
    const stores = storeMetrics(registry, () =>
      open.map((s) => ({ table: 'users', gauges: s.gauges(), stats: s.stats })),
    );
    const store = await Store.open(env, {
      dir: 'users',
      onWalSync: stores.walSyncObserver('users'),
    });
    open.push(store);
    cleanups.push(() => store.close());
    const f = utf8('f');
    for (let i = 0; i < 5; i++) {
      await store.write(new WriteBatch().put(utf8(`row${i}`), f, utf8('q'), i + 1, utf8('v')));
    }
    // A flushed table: its block went into the cache as it was written, so a read hits it.
    await store.flush();
    await store.write(new WriteBatch().put(utf8('row9'), f, utf8('q'), 1, utf8('v')));
    expect(await store.get(utf8('row1'))).toHaveLength(1);
    const gauges = store.gauges();
    expect(gauges.blockCacheHits).toBe(1);
    expect(gauges.blockCacheMisses).toBe(0);
    expect(gauges.blockCacheBytes).toBeGreaterThan(0);
    expect(gauges.memtableBytes).toBeGreaterThan(0);
    expect(gauges.walSyncs).toBeGreaterThanOrEqual(1);
    expect(gauges.compactionPendingBytes).toBe(0);

    // Raft
    let status: RaftSample | undefined = {
      id: 2,
      role: 'leader',
      term: 7,
      leader: 2,
      commit: 41,
      applied: 40,
      lastIndex: 42,
    };
    raftMetrics(registry, () => status);

    const metrics = await startMetricsServer(registry, '127.0.0.1', 0);
    cleanups.push(() => metrics.close());
    expect(metrics.port).toBeGreaterThan(0);
    expect(metrics.address).toBe(`127.0.0.1:${metrics.port}`);
    expect(metrics.url).toBe(`http://127.0.0.1:${metrics.port}/metrics`);

    const res = await fetchText(metrics.url);
    expect(res.status).toBe(200);
    expect(res.type).toBe(registry.contentType);
    const m = parse(res.body);
    expect(
      m.get(normalize('tessera_rpc_requests_total{method="echo",outcome="ok",proc="node1"}')),
    ).toBe(3);
    expect(
      m.get(
        normalize(
          'tessera_rpc_requests_total{method="(unknown)",outcome="UNKNOWN_METHOD",proc="node1"}',
        ),
      ),
    ).toBe(1);
    expect(
      m.get(normalize('tessera_rpc_request_duration_seconds_count{method="echo",proc="node1"}')),
    ).toBe(3);
    expect(
      m.get(
        normalize(
          'tessera_rpc_request_duration_seconds_bucket{le="+Inf",method="echo",proc="node1"}',
        ),
      ),
    ).toBe(3);
    expect(m.get(normalize('tessera_memtable_bytes{table="users",proc="node1"}'))).toBe(
      gauges.memtableBytes,
    );
    expect(m.get(normalize('tessera_compaction_pending_bytes{table="users",proc="node1"}'))).toBe(
      0,
    );
    expect(m.get(normalize('tessera_wal_syncs_total{table="users",proc="node1"}'))).toBe(
      gauges.walSyncs,
    );
    expect(m.get(normalize('tessera_block_cache_capacity_bytes{table="users",proc="node1"}'))).toBe(
      gauges.blockCacheCapacityBytes,
    );
    expect(gauges.blockCacheCapacityBytes).toBeGreaterThan(0);
    expect(m.get(normalize('tessera_block_cache_bytes{table="users",proc="node1"}'))).toBe(
      gauges.blockCacheBytes,
    );
    expect(m.get(normalize('tessera_block_cache_hits_total{table="users",proc="node1"}'))).toBe(
      gauges.blockCacheHits,
    );
    expect(m.get(normalize('tessera_block_cache_misses_total{table="users",proc="node1"}'))).toBe(
      gauges.blockCacheMisses,
    );
    expect(
      m.get(normalize('tessera_wal_fsync_duration_seconds_count{table="users",proc="node1"}')),
    ).toBe(gauges.walSyncs);
    expect(
      m.get(normalize('tessera_store_user_bytes_total{table="users",proc="node1"}')),
    ).toBeGreaterThan(0);
    expect(m.get(normalize('tessera_raft_term{group="lock",proc="node1"}'))).toBe(7);
    expect(m.get(normalize('tessera_raft_commit_index{group="lock",proc="node1"}'))).toBe(41);
    expect(m.get(normalize('tessera_raft_applied_index{group="lock",proc="node1"}'))).toBe(40);
    expect(m.get(normalize('tessera_raft_leader_id{group="lock",proc="node1"}'))).toBe(2);
    expect(m.get(normalize('tessera_raft_is_leader{group="lock",proc="node1"}'))).toBe(1);
    expect(m.has(normalize('tessera_process_cpu_seconds_total{proc="node1"}'))).toBe(true);

    // Collect-time values follow the sources.
    status = { ...status, role: 'follower', leader: 3, term: 8 };
    const again = parse((await fetchText(metrics.url)).body);
    expect(again.get(normalize('tessera_raft_is_leader{group="lock",proc="node1"}'))).toBe(0);
    expect(again.get(normalize('tessera_raft_term{group="lock",proc="node1"}'))).toBe(8);
    status = undefined;
    const gone = parse((await fetchText(metrics.url)).body);
    expect(gone.has(normalize('tessera_raft_term{group="lock",proc="node1"}'))).toBe(false);

    expect((await fetchText(`http://${metrics.address}/`)).status).toBe(404);
    expect((await fetchText(`http://${metrics.address}/metricsx`)).status).toBe(404);
    expect((await fetchText(metrics.url, 'POST')).status).toBe(405);
  });

  it('close() frees the port', async () => {
    const registry = createRegistry('x', { defaultMetrics: false });
    const first = await startMetricsServer(registry, '127.0.0.1', 0);
    await first.close();
    const second = await startMetricsServer(registry, '127.0.0.1', first.port);
    expect(second.port).toBe(first.port);
    await second.close();
  });
});
