/**
 * Raft as a pure state machine plus its driver (issue: lock service).
 *
 * Nothing is exported yet: this layer arrives with its issue. The folder exists so the layer
 * map of DESIGN.md is visible in the tree and imports only point downward.
 */
export {};
