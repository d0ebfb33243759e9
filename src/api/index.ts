/** Front doors: the native RPC service (HTTP, RESP and DynamoDB-style doors come later). */
export * from './node-service.js';
export * from './table-service.js';
