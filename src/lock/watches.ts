/**
 * Watch events. Watch registrations belong to client connections and are not replicated;
 * what is replicated is the log, and applying a command returns the events it caused, in
 * order. A server fires the watches its own clients registered from those events.
 */

export type WatchEventType = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';

export interface WatchEvent {
  readonly path: string;
  readonly type: WatchEventType;
}

/** The kinds of watch a client can set on a path (as in ZooKeeper). */
export type WatchKind = 'exists' | 'data' | 'children';

/**
 * Which watch kinds on `event.path` the event fires: a data or exists watch on creation,
 * deletion and data change; a children watch on child changes and on deletion of the node.
 */
export function watchKindsFired(event: WatchEvent): readonly WatchKind[] {
  switch (event.type) {
    case 'created':
      return ['exists', 'data'];
    case 'dataChanged':
      return ['exists', 'data'];
    case 'deleted':
      return ['exists', 'data', 'children'];
    case 'childrenChanged':
      return ['children'];
  }
}
