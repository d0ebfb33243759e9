/**
 * The `table.*` methods on a ring node: requests for hashed tables go to the coordinator
 * (coordinator.ts), everything else to the node's TableDispatcher as on any node.
 *
 * Hashed tables support create, drop, describe, list, mutate (put and delete), get and batch,
 * each read and write at the request's consistency level (default QUORUM). Scans, and the
 * read-modify-write operations checkAndMutate, increment and append, are INVALID_ARGUMENT on a
 * hashed table: a scan of one node's replica would silently miss rows, and a read-modify-write
 * needs agreement among replicas (Cassandra's lightweight transactions use Paxos for it), which
 * last-write-wins replication does not give.
 */
import type { Env } from '../env/index.js';
import {
  CONSISTENCY_DEFAULT,
  type ConsistencyLevel,
  type Mutation,
  requestChecks,
  type TableCaller,
  type TableDispatcher,
  type TableMethod,
  type TableReply,
  type TableRequest,
  tableSchema,
  type TableSchema,
} from '../model/index.js';
import { invalidArgument, TesseraError, toTesseraError } from '../util/errors.js';
import type { RingNode } from './ring-node.js';

const unsupported: ReadonlySet<string> = new Set([
  'table.scan',
  'table.checkAndMutate',
  'table.increment',
  'table.append',
]);

export class HashedTableCaller implements TableCaller {
  constructor(
    private readonly env: Env,
    private readonly dispatcher: TableDispatcher,
    private readonly node: RingNode,
  ) {}

  async call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<TableReply<M>> {
    let reply: unknown;
    try {
      reply = await this.hashed(method, request as unknown);
    } catch (err) {
      throw toTesseraError(err);
    }
    if (reply !== undefined) return reply as TableReply<M>;
    return this.dispatcher.call(method, request, options);
  }

  /** The hashed table a request names, or undefined (not hashed, or no table field). */
  private hashedSchema(o: requestChecks.Obj): TableSchema | undefined {
    const table = o['table'];
    return typeof table === 'string' ? this.node.schema.schemaOf(table) : undefined;
  }

  /** Answers a request on a hashed table; undefined when the dispatcher should take it. */
  private async hashed(method: TableMethod, req: unknown): Promise<unknown> {
    if (method === 'table.list' || method === 'table.describe') return undefined;
    if (method === 'table.scanNext' || method === 'table.scanClose') return undefined;
    const o = requestChecks.obj(req, 'request');
    if (method === 'table.create') {
      const spec = requestChecks.tableSpec(o['spec'], 'spec');
      if (tableSchema(spec).placement.kind !== 'hashed') return undefined;
      const schema = await this.node.schema.create(spec, this.env.clock.nowMicros());
      await this.node.pushSchema();
      return { schema };
    }
    const schema = this.hashedSchema(o);
    if (schema === undefined) return undefined;
    if (unsupported.has(method)) {
      throw invalidArgument(
        `${method.slice('table.'.length)} is not supported on hashed table '${schema.name}': ` +
          'hashed tables take put, delete, get and batch',
        { table: schema.name, method },
      );
    }
    const level = requestChecks.consistency(o) ?? CONSISTENCY_DEFAULT;
    const coordinator = this.node.coordinator;
    switch (method) {
      case 'table.drop':
        await this.node.schema.drop(schema.name, this.env.clock.nowMicros());
        await this.node.pushSchema();
        return {};
      case 'table.mutate':
        return coordinator.write(schema, this.mutationOf(schema, o['mutation'], 'mutation'), level);
      case 'table.get': {
        const row = requestChecks.bytes(o, 'row', 'row');
        const spec = requestChecks.getSpec(o['spec'], 'spec');
        return { cells: await coordinator.read(schema, row, spec, level) };
      }
      case 'table.batch':
        return this.batch(schema, o['mutations'], level);
      default:
        throw new TesseraError('INTERNAL', `no hashed-table handler for ${method}`);
    }
  }

  private mutationOf(schema: TableSchema, v: unknown, name: string): Mutation {
    const limits = this.node.schema.limitsOf(schema.name);
    return requestChecks.mutation(v, name, limits);
  }

  private async batch(
    schema: TableSchema,
    list: unknown,
    level: ConsistencyLevel,
  ): Promise<TableReply<'table.batch'>> {
    const limits = this.node.schema.limitsOf(schema.name);
    if (!Array.isArray(list)) throw requestChecks.badField('mutations', 'an array', list);
    if (list.length > limits.batchMutationsMax) {
      throw invalidArgument(
        `mutations has ${list.length} elements; the limit batchMutationsMax is ` +
          `${limits.batchMutationsMax}`,
        { field: 'mutations', limit: 'batchMutationsMax' },
      );
    }
    const ms = list.map((m, i) => requestChecks.mutation(m, `mutations[${i}]`, limits));
    const results = await Promise.all(
      ms.map((m) =>
        this.node.coordinator.write(schema, m, level).then(
          (r) => ({ ok: true as const, timestamp: r.timestamp }),
          (err: unknown) => {
            const e = toTesseraError(err);
            return { ok: false as const, code: e.code, message: e.message };
          },
        ),
      ),
    );
    return { results };
  }
}
