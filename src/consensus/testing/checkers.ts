/**
 * The Raft paper's safety properties (Figure 3), checked from outside the nodes while a
 * Network runs. Each violation throws with the property's name.
 */
import { assert } from '../../util/assert.js';
import type { NodeId } from '../types.js';
import type { AppState, Network, Observer } from './network.js';

export class SafetyChecker implements Observer {
  /** Election Safety: term -> the one leader seen in it. */
  readonly leaders = new Map<number, NodeId>();
  /** Leader Append-Only: (term) -> the leader's last index and its term when last seen. */
  private readonly leaderTails = new Map<number, { index: number; term: number }>();
  /** Every committed (index -> term) any node ever reported. */
  readonly committed = new Map<number, number>();
  private readonly commitSeen = new Map<NodeId, number>();
  /** State Machine Safety: index -> state digest after applying it. */
  readonly appliedDigests = new Map<number, number>();
  applyCount = 0;

  afterStep(net: Network, id: NodeId): void {
    const raft = net.raft(id);
    const s = raft.status();
    if (s.role === 'leader') this.checkLeader(net, id, s.term, s.lastIndex);
    this.recordCommits(net, id, s.commit, s.firstIndex);
  }

  onApply(_net: Network, id: NodeId, state: AppState): void {
    this.applyCount++;
    const seen = this.appliedDigests.get(state.index);
    if (seen === undefined) this.appliedDigests.set(state.index, state.digest);
    else
      assert(
        seen === state.digest,
        `State Machine Safety: node ${id} applied a different entry at ${state.index}`,
      );
  }

  private checkLeader(net: Network, id: NodeId, term: number, lastIndex: number): void {
    const raft = net.raft(id);
    const known = this.leaders.get(term);
    if (known === undefined) {
      this.leaders.set(term, id);
      this.checkCompleteness(net, id);
    } else {
      assert(known === id, `Election Safety: ${known} and ${id} both lead term ${term}`);
    }
    const tail = this.leaderTails.get(term);
    if (tail) {
      assert(lastIndex >= tail.index, `Leader Append-Only: leader ${id} shrank its log`);
      const t = raft.termAt(tail.index);
      assert(
        t === undefined || t === tail.term,
        `Leader Append-Only: leader ${id} rewrote ${tail.index}`,
      );
    }
    this.leaderTails.set(term, { index: lastIndex, term: raft.termAt(lastIndex) ?? 0 });
  }

  /** Leader Completeness: a new leader holds every entry committed before it. */
  private checkCompleteness(net: Network, id: NodeId): void {
    const raft = net.raft(id);
    const first = raft.status().firstIndex;
    for (const [index, term] of this.committed) {
      if (index < first) continue;
      assert(
        raft.termAt(index) === term,
        `Leader Completeness: leader ${id} lacks committed entry ${index} (term ${term})`,
      );
    }
  }

  private recordCommits(net: Network, id: NodeId, commit: number, firstIndex: number): void {
    const raft = net.raft(id);
    const from = Math.max(this.commitSeen.get(id) ?? 0, firstIndex - 1);
    for (let i = from + 1; i <= commit; i++) {
      const t = raft.termAt(i)!;
      const known = this.committed.get(i);
      if (known === undefined) this.committed.set(i, t);
      else
        assert(
          known === t,
          `State Machine Safety: node ${id} committed term ${t} at ${i}, others ${known}`,
        );
    }
    this.commitSeen.set(id, Math.max(commit, this.commitSeen.get(id) ?? 0));
  }
}

/**
 * Log Matching: if two logs hold an entry with the same index and term, they are identical
 * in all entries up to that index.
 */
export function checkLogMatching(net: Network): void {
  const ids = net.ids;
  for (let a = 0; a < ids.length; a++) {
    for (let b = a + 1; b < ids.length; b++) {
      const ra = net.raft(ids[a]!);
      const rb = net.raft(ids[b]!);
      const lo = Math.max(ra.status().firstIndex, rb.status().firstIndex);
      const hi = Math.min(ra.status().lastIndex, rb.status().lastIndex);
      let matched = false;
      for (let i = hi; i >= lo; i--) {
        const ea = ra.entryAt(i)!;
        const eb = rb.entryAt(i)!;
        if (ea.term === eb.term) matched = true;
        if (matched) {
          assert(
            ea.term === eb.term && ea.kind === eb.kind && sameBytes(ea.data, eb.data),
            `Log Matching: nodes ${ids[a]} and ${ids[b]} differ at ${i} below a matching entry`,
          );
        }
      }
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
