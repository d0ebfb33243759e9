export * from './errors.js';
export * from './assert.js';
export * from './bytes.js';
export * from './prng.js';
export * from './byte-io.js';
export * from './fnv.js';
