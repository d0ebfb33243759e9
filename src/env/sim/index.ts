/**
 * The deterministic simulator environment: many nodes in one process on virtual time, every
 * fault drawn from one seed. See docs/simulator.md for the fault model and how to write a
 * scenario.
 */
export {
  SimWorld,
  eventsPerRunMaxDefault,
  runUntilTimeoutMsDefault,
  traceLinesMaxDefault,
  type NodeError,
  type NodeErrorPolicy,
  type RunOptions,
  type RunResult,
  type SimWorldOptions,
} from './world.js';
export { SimNode, type NodeMain, type SimNodeOptions } from './node.js';
export { SimClock, startWallMicrosDefault, type ClockSettings } from './clock.js';
export { SimDisk } from './disk.js';
export {
  diskFaultsDefault,
  networkFaultsDefault,
  type DiskFaults,
  type NetworkFaults,
} from './faults.js';
export {
  connectTimeoutMsDefault,
  datagramBytesMax,
  retransmitTimeoutMs,
  synRetryMs,
} from './network.js';
export { sendBufferBytesMax } from './stream.js';
