/**
 * Sequential specifications for the linearizability checker.
 *
 * A model is a pure state machine: `step` says whether an operation, applied to a state, could
 * have produced the operation's observed output, and gives the next state. An indeterminate
 * operation (`status: 'info'`) has no output; its step must allow any outcome it could have
 * had (a cas that may have failed, say). `partition` splits a history into independently
 * checkable parts (P-compositionality: a history is linearizable iff each part is), and drops
 * operations that cannot matter (indeterminate reads).
 */
import { TesseraError } from '../../util/errors.js';
import { formatValue, type Operation } from './history.js';

export type StepResult<S> = { readonly ok: true; readonly state: S } | { readonly ok: false };

export interface Partition {
  /** A label for reports: the key, or '' for a single-part model. */
  readonly label: string;
  readonly ops: readonly Operation[];
}

export interface Model<S> {
  readonly name: string;
  readonly description: string;
  init(): S;
  step(state: S, op: Operation): StepResult<S>;
  /** A string equal for equal states, for the search's memo cache. */
  stateKey(state: S): string;
  formatState(state: S): string;
  partition(ops: readonly Operation[]): Partition[];
}

const ILLEGAL: StepResult<never> = { ok: false };

function ok<S>(state: S): StepResult<S> {
  return { ok: true, state };
}

// ---------------------------------------------------------------------------------------------
// register: read / write / cas on one value (Jepsen's cas-register; etcd histories).

export type RegisterValue = number | string | null;

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (a == null && b == null);
}

function casArgs(op: Operation): readonly [unknown, unknown] {
  const v = op.input;
  if (!Array.isArray(v) || v.length !== 2) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `cas expects [from to], got ${formatValue(v)} (op ${op.id})`,
    );
  }
  return [v[0], v[1]];
}

export const registerModel: Model<RegisterValue> = {
  name: 'register',
  description: 'one register: read, write v, cas [from to]; initially nil',
  init: () => null,
  step(state, op) {
    switch (op.f) {
      case 'read':
        // An indeterminate read observed nothing; `partition` drops those.
        return op.status === 'info' || sameValue(op.output, state) ? ok(state) : ILLEGAL;
      case 'write':
        return ok(op.input as RegisterValue);
      case 'cas': {
        const [from, to] = casArgs(op);
        if (sameValue(state, from)) return ok(to as RegisterValue);
        // An indeterminate cas whose precondition does not hold failed: no effect.
        return op.status === 'info' ? ok(state) : ILLEGAL;
      }
      default:
        throw new TesseraError('INVALID_ARGUMENT', `register model: unknown operation '${op.f}'`);
    }
  },
  stateKey: (state) =>
    state === null ? 'nil' : typeof state === 'string' ? `s${state}` : `n${state}`,
  formatState: (state) => formatValue(state),
  partition: (ops) => [{ label: '', ops: ops.filter((op) => !isIndeterminateRead(op)) }],
};

// ---------------------------------------------------------------------------------------------
// kv: a map of independent string registers, get / put / append (shared/histories/kv).
// An unset key reads as "". Checked key by key.

export const kvModel: Model<string> = {
  name: 'kv',
  description: 'a map of string registers: get, put v, append v (unset reads as ""); per key',
  init: () => '',
  step(state, op) {
    switch (op.f) {
      case 'get':
      case 'read':
        return op.status === 'info' || sameValue(op.output ?? '', state) ? ok(state) : ILLEGAL;
      case 'put':
      case 'write':
        return ok(String(op.input ?? ''));
      case 'append':
        return ok(state + String(op.input ?? ''));
      default:
        throw new TesseraError('INVALID_ARGUMENT', `kv model: unknown operation '${op.f}'`);
    }
  },
  stateKey: (state) => state,
  formatState: (state) => JSON.stringify(state),
  partition(ops) {
    const byKey = new Map<string, Operation[]>();
    for (const op of ops) {
      if (isIndeterminateRead(op)) continue;
      const key = op.key ?? '';
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort(compareKeys).map((label) => ({ label, ops: byKey.get(label)! }));
  },
};

function compareKeys(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isIndeterminateRead(op: Operation): boolean {
  return op.status === 'info' && (op.f === 'read' || op.f === 'get');
}

/**
 * A register per key that counts its writes, for stores that answer a write with the new
 * version (the lock service): reads must see the exact [version, value]; acknowledged writes and
 * compare-and-sets must report the exact new version.
 */
export interface VersionedRegister {
  readonly version: number;
  readonly value: number | null;
}

/** Per path: read → [version, value]; write v → new version; cas [expectedVersion, v] → new version. */
export const versionedRegisterModel: Model<VersionedRegister> = {
  name: 'versioned-register',
  description: 'per key: read → [version value], write v → version, cas [version v] → version',
  init: () => ({ version: 0, value: null }),
  step(state, op): StepResult<VersionedRegister> {
    const next: VersionedRegister = { version: state.version + 1, value: null };
    switch (op.f) {
      case 'read': {
        if (op.status === 'info') return { ok: true, state };
        const [v, x] = op.output as [number, number | null];
        return v === state.version && x === state.value ? { ok: true, state } : ILLEGAL;
      }
      case 'write': {
        const after = { ...next, value: op.input as number };
        if (op.status === 'ok' && op.output !== after.version) return ILLEGAL;
        return { ok: true, state: after };
      }
      case 'cas': {
        const [expected, x] = op.input as [number, number];
        if (state.version !== expected) return op.status === 'info' ? { ok: true, state } : ILLEGAL;
        const after = { ...next, value: x };
        if (op.status === 'ok' && op.output !== after.version) return ILLEGAL;
        return { ok: true, state: after };
      }
      default:
        return ILLEGAL;
    }
  },
  stateKey: (s) => `${s.version}:${String(s.value)}`,
  formatState: (s) => `v${s.version}=${String(s.value)}`,
  partition(ops): Partition[] {
    const byKey = new Map<string, Operation[]>();
    for (const op of ops) {
      if (op.status === 'info' && op.f === 'read') continue;
      const key = op.key ?? '';
      const list = byKey.get(key) ?? [];
      list.push(op);
      byKey.set(key, list);
    }
    return [...byKey.keys()].sort().map((label) => ({ label, ops: byKey.get(label)! }));
  },
};

// A registry of heterogeneous models, so their state types differ.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const MODELS: Readonly<Record<string, Model<any>>> = {
  register: registerModel,
  'cas-register': registerModel,
  kv: kvModel,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findModel(name: string): Model<any> | undefined {
  return Object.prototype.hasOwnProperty.call(MODELS, name) ? MODELS[name] : undefined;
}
