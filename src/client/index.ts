/**
 * Public TypeScript clients: routing, redirects, retries and sessions. The lock-service client
 * is `LockClient` (src/client/lock-client.ts; protocol in docs/lock-protocol.md).
 */
export * from './lock-client.js';
