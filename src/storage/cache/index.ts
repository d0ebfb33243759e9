/** The block cache shared by every open table of a store. */
export { BlockCache } from './lru-cache.js';
