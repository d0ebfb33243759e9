/**
 * The native wire protocol: framing, the msgpack body codec, and RPC over one connection
 * (request ids, deadlines, cancellation, error codes). Byte layout: docs/formats/rpc.md.
 */
export {
  RpcServer,
  UNKNOWN_METHOD_LABEL,
  type RpcObserver,
  type RpcOutcome,
  type RpcServerOptions,
  type RpcServerStats,
} from './server.js';
export type { CallContext, Handler } from './server-connection.js';
export { RpcClient, type RpcClientOptions, type CallOptions } from './client.js';
export {
  FrameKind,
  MAGIC,
  PROTOCOL_VERSION_MIN,
  PROTOCOL_VERSION_MAX,
  FRAME_BYTES_DEFAULT,
  FRAME_BYTES_MIN,
  FRAME_BYTES_CEILING,
  HEADER_BYTES,
  METHOD_BYTES_MAX,
  TIMEOUT_MS_MAX,
  frameKindName,
} from './format.js';
export {
  encodeFrames,
  decodeFrames,
  parseFrame,
  type Frame,
  type HelloFrame,
  type RequestFrame,
  type ResponseFrame,
  type ErrorFrame,
  type ControlFrame,
  type DecodedStream,
} from './frame.js';
export { FrameDecoder, type FrameSink } from './decoder.js';
export { FrameEncoder } from './encoder.js';
export { encodeValue, decodeValue } from './codec.js';
