/**
 * What a YCSB client drives: YCSB's `DB` binding interface cut down to the five core
 * operations, with a Tessera implementation (the public Database/Table API) and a Redis one
 * (ioredis, shaped like YCSB's redis binding).
 *
 * Connections follow each system's YCSB binding unless the run says otherwise: YCSB's Redis
 * binding gives every client thread its own Jedis connection (one command outstanding on
 * each), while its HBase binding shares one `Connection` among all threads, whose RPC client
 * multiplexes every thread's calls to a server over one socket. Tessera's client multiplexes
 * the same way, so its clients share one Database; Redis's clients each open their own. A
 * target is safe to share: its operations hold no state between awaits.
 *
 * A Tessera system may name several nodes (a ring: the client connects to all of them and
 * routes each hashed-table request to a replica of its row), the placement of the table it
 * creates, and the consistency level every read and write sends.
 */
import { Redis } from 'ioredis';
import type { Database, GetOptions, PutOptions, Table } from '../../../client/table-api.js';
import type { ConsistencyLevel, PlacementSpec } from '../../../model/index.js';
import { isTesseraError } from '../../../util/errors.js';
import { FIELD_NAMES, TABLE_NAME, type FieldValues } from './workloads.js';

/** One client's connection to the system under test. Reads resolve to whether the row was found. */
export interface YcsbTarget {
  insert(key: string, values: FieldValues): Promise<void>;
  /** Reads every field (readallfields=true); false when the row does not exist. */
  read(key: string): Promise<boolean>;
  update(key: string, values: FieldValues): Promise<void>;
  /** Up to `count` rows from `startKey` in key order, every field; resolves to rows seen. */
  scan(startKey: string, count: number): Promise<number>;
  /** Reads the row's fields, then writes `values`; false when the row did not exist. */
  readModifyWrite(key: string, values: FieldValues): Promise<boolean>;
  close(): Promise<void>;
}

/** A system under test: prepared once per run, then opened once per client. */
export interface YcsbSystem {
  /** `tessera` or `redis`. */
  readonly name: string;
  readonly address: string;
  /** Connections `clients` clients share when the run does not say (its binding's habit). */
  defaultConnections(clients: number): number;
  /** Creates what the load phase needs (the table), if missing. */
  prepare(): Promise<void>;
  open(): Promise<YcsbTarget>;
}

/** The column family that holds YCSB's fields: `f:field0` … `f:field9`. */
export const TESSERA_FAMILY = 'f';

export type ConnectFn = (addresses: readonly string[]) => Promise<Database>;

const columnOf = new Map(FIELD_NAMES.map((f) => [f, `${TESSERA_FAMILY}:${f}`]));

function tesseraCells(values: FieldValues): Record<string, Uint8Array> {
  const cells: Record<string, Uint8Array> = {};
  for (const [field, value] of values)
    cells[columnOf.get(field) ?? `${TESSERA_FAMILY}:${field}`] = value;
  return cells;
}

/** One client's Database handle on `usertable`. */
export class TesseraTarget implements YcsbTarget {
  private readonly table: Table;
  /** Options of every put and get: the consistency level, when the run names one. */
  private readonly putOptions: PutOptions | undefined;
  private readonly getOptions: GetOptions | undefined;

  constructor(
    private readonly db: Database,
    consistency?: ConsistencyLevel,
  ) {
    this.table = db.table(TABLE_NAME);
    this.putOptions = consistency === undefined ? undefined : { consistency };
    this.getOptions = this.putOptions;
  }

  async insert(key: string, values: FieldValues): Promise<void> {
    await this.table.put(key, tesseraCells(values), this.putOptions);
  }

  async read(key: string): Promise<boolean> {
    return (await this.table.get(key, this.getOptions)) !== undefined;
  }

  async update(key: string, values: FieldValues): Promise<void> {
    await this.table.put(key, tesseraCells(values), this.putOptions);
  }

  async scan(startKey: string, count: number): Promise<number> {
    let rows = 0;
    for await (const _row of this.table.scan({
      startRow: startKey,
      limit: count,
      batchRows: count,
    }))
      rows++;
    return rows;
  }

  async readModifyWrite(key: string, values: FieldValues): Promise<boolean> {
    const found = await this.read(key);
    await this.update(key, values);
    return found;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export interface TesseraSystemOptions {
  /** Placement of the table when this system creates it (default: ordered). */
  readonly placement?: PlacementSpec;
  /** Level every read and write sends (default: none, the database's own). */
  readonly consistency?: ConsistencyLevel;
}

/** Tessera at `addresses` (`host:port`, one node or the nodes of a ring). */
export function tesseraSystem(
  addresses: string | readonly string[],
  connect: ConnectFn,
  options: TesseraSystemOptions = {},
): YcsbSystem {
  const list: readonly string[] = typeof addresses === 'string' ? [addresses] : addresses;
  if (list.length === 0) throw new RangeError('a tessera system needs an address');
  const { placement, consistency } = options;
  return {
    name: 'tessera',
    address: list.join(','),
    defaultConnections: () => 1,
    async prepare() {
      const db = await connect(list);
      try {
        if ((await db.listTables()).includes(TABLE_NAME)) return;
        try {
          await db.createTable({
            name: TABLE_NAME,
            families: [{ name: TESSERA_FAMILY }],
            ...(placement === undefined ? {} : { placement }),
          });
        } catch (err) {
          if (!isTesseraError(err, 'ALREADY_EXISTS')) throw err;
        }
      } finally {
        await db.close();
      }
    },
    async open() {
      return new TesseraTarget(await connect(list), consistency);
    },
  };
}

/** The sorted set that orders keys for scans (all scores 0, so ZRANGEBYLEX walks key order). */
export const REDIS_INDEX_KEY = `${TABLE_NAME}:index`;

function redisFields(values: FieldValues): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [field, value] of values) {
    out[field] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return out;
}

/**
 * One client's Redis connection: a record is a hash (HSET / HGETALL), and inserts also add the
 * key to a sorted-set index for scans. YCSB's own binding scores keys by Java's hashCode and
 * uses ZRANGEBYSCORE, which scans in hash order; ZRANGEBYLEX over equal scores scans in key
 * order instead, the same rows Tessera's ordered scan returns.
 */
export class RedisTarget implements YcsbTarget {
  constructor(private readonly redis: Redis) {}

  async insert(key: string, values: FieldValues): Promise<void> {
    // One round trip for both commands, as a pipeline (not MULTI, as YCSB does not use one).
    const results = await this.redis
      .pipeline()
      .hset(key, redisFields(values))
      .zadd(REDIS_INDEX_KEY, 0, key)
      .exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0]!;
  }

  async read(key: string): Promise<boolean> {
    const fields = await this.redis.hgetallBuffer(key);
    return Object.keys(fields).length > 0;
  }

  async update(key: string, values: FieldValues): Promise<void> {
    await this.redis.hset(key, redisFields(values));
  }

  async scan(startKey: string, count: number): Promise<number> {
    const keys = await this.redis.zrangebylex(
      REDIS_INDEX_KEY,
      `[${startKey}`,
      '+',
      'LIMIT',
      0,
      count,
    );
    if (keys.length === 0) return 0;
    // YCSB fetches each scanned row in turn; one pipeline is kinder to Redis (one round trip).
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.hgetallBuffer(k);
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0]!;
    return keys.length;
  }

  async readModifyWrite(key: string, values: FieldValues): Promise<boolean> {
    const found = await this.read(key);
    await this.update(key, values);
    return found;
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}

/** `host:port` from `redis://host:port` (or a bare `host:port`). */
export function parseRedisAddress(target: string): { host: string; port: number } {
  const m = /^(?:redis:\/\/)?([^:/]+):(\d+)\/?$/.exec(target);
  if (!m) throw new Error(`not a redis address (redis://host:port): ${target}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * `flush` empties the database at prepare time; only for a throw-away server the benchmark
 * started itself, never for a server someone pointed it at.
 */
export function redisSystem(target: string, { flush = false } = {}): YcsbSystem {
  const { host, port } = parseRedisAddress(target);
  const open = async () => {
    // No reconnection: a benchmark connection that drops is an error to report, not to hide.
    const redis = new Redis({
      host,
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Failures reach the caller through the rejected command or connect(); this keeps ioredis
    // from also printing each one as an unhandled 'error' event.
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot connect to redis at ${host}:${port}: ${why}`, { cause: err });
    }
    return redis;
  };
  return {
    name: 'redis',
    address: `${host}:${port}`,
    defaultConnections: (clients) => clients,
    async prepare() {
      if (!flush) return;
      const redis = await open();
      try {
        await redis.flushdb();
      } finally {
        await redis.quit();
      }
    },
    async open() {
      return new RedisTarget(await open());
    },
  };
}
