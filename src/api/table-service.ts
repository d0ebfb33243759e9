/**
 * The native protocol's `table.*` methods (docs/formats/table-rpc.md): each handler hands the
 * decoded, still untrusted body to the TableDispatcher, which validates it in full and answers
 * INVALID_ARGUMENT for a malformed one, so a bad request fails alone and the server serves on.
 */
import { TABLE_METHODS, type TableCaller, type TableMethod } from '../model/index.js';
import type { RpcServer } from '../wire/index.js';

export function registerTableService(server: RpcServer, dispatcher: TableCaller): void {
  for (const method of TABLE_METHODS) {
    // No signal: table operations are short, and ctx.signal would cost an AbortController
    // per request (2% of a node's CPU under YCSB).
    server.handle(method, (args: unknown) => dispatcher.call<TableMethod>(method, args as never));
  }
}
