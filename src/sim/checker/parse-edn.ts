/**
 * A small EDN reader: enough of https://github.com/edn-format/edn for Jepsen histories.
 *
 * Supported: nil, true/false, integers and floats (with an optional N/M suffix), strings with
 * the usual escapes, characters (\a, \newline, \space, \tab), keywords, symbols, vectors,
 * lists, maps, sets, `;` comments, commas as whitespace and `#_` discard. Tagged literals
 * (`#inst`, `#uuid`, ...) are not supported. Any malformed input raises INVALID_ARGUMENT with
 * the line and column (both 1-based) where reading stopped.
 *
 * Representation: nil → null, numbers → number, strings and characters → string, vectors →
 * arrays, lists → EdnList, maps → Map (keys compared by identity, which is why keywords and
 * symbols are interned: `map.get(keyword('type'))` works), sets → Set.
 */
import { TesseraError } from '../../util/errors.js';

export class Keyword {
  private static readonly interned = new Map<string, Keyword>();
  private constructor(readonly name: string) {}

  static of(name: string): Keyword {
    let kw = Keyword.interned.get(name);
    if (kw === undefined) {
      kw = new Keyword(name);
      Keyword.interned.set(name, kw);
    }
    return kw;
  }

  toString(): string {
    return `:${this.name}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export class EdnSymbol {
  private static readonly interned = new Map<string, EdnSymbol>();
  private constructor(readonly name: string) {}

  static of(name: string): EdnSymbol {
    let sym = EdnSymbol.interned.get(name);
    if (sym === undefined) {
      sym = new EdnSymbol(name);
      EdnSymbol.interned.set(name, sym);
    }
    return sym;
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }
}

export class EdnList {
  constructor(readonly items: readonly EdnValue[]) {}
  toJSON(): readonly EdnValue[] {
    return this.items;
  }
}

export type EdnValue =
  | null
  | boolean
  | number
  | string
  | Keyword
  | EdnSymbol
  | EdnList
  | EdnValue[]
  | Map<EdnValue, EdnValue>
  | Set<EdnValue>;

/** Shorthand for `Keyword.of(name)` (name without the leading colon). */
export function keyword(name: string): Keyword {
  return Keyword.of(name);
}

/** A top-level form and the line (1-based) where it starts. */
export interface EdnForm {
  readonly value: EdnValue;
  readonly line: number;
}

/** Reads exactly one EDN value from `text` (surrounding whitespace and comments allowed). */
export function parseEdn(text: string): EdnValue {
  const forms = parseEdnAll(text);
  if (forms.length !== 1) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `expected exactly one EDN value, found ${forms.length}`,
    );
  }
  return forms[0]!.value;
}

/** Reads every top-level EDN value in `text`, in order. */
export function parseEdnAll(text: string): EdnForm[] {
  const reader = new Reader(text);
  const forms: EdnForm[] = [];
  for (;;) {
    reader.skipSpace();
    if (reader.atEnd()) return forms;
    const line = reader.line;
    const value = reader.readValue();
    if (value !== DISCARDED) forms.push({ value, line });
  }
}

const DISCARDED: unique symbol = Symbol('discarded');
type Read = EdnValue | typeof DISCARDED;

const DELIMITERS = new Set([...'()[]{}",;']);
const NAMED_CHARS: Readonly<Record<string, string>> = {
  newline: '\n',
  space: ' ',
  tab: '\t',
  return: '\r',
  formfeed: '\f',
  backspace: '\b',
};
const STRING_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
};
// The deepest nesting accepted; a bound on the reader's recursion.
const NESTING_MAX = 512;

class Reader {
  private pos = 0;
  line = 1;
  private column = 1;
  private depth = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private next(): string {
    const c = this.text[this.pos];
    if (c === undefined) throw this.error('unexpected end of input');
    this.pos++;
    if (c === '\n') {
      this.line++;
      this.column = 1;
    } else {
      this.column++;
    }
    return c;
  }

  error(message: string, line = this.line, column = this.column): TesseraError {
    return new TesseraError(
      'INVALID_ARGUMENT',
      `EDN: ${message} at line ${line}, column ${column}`,
      {
        line,
        column,
      },
    );
  }

  skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c === undefined) return;
      if (c === ';') {
        while (this.peek() !== undefined && this.peek() !== '\n') this.next();
      } else if (c === ',' || /\s/.test(c)) {
        this.next();
      } else {
        return;
      }
    }
  }

  readValue(): Read {
    this.skipSpace();
    const c = this.peek();
    if (c === undefined) throw this.error('unexpected end of input');
    switch (c) {
      case '"':
        return this.readString();
      case '[':
        return this.readSeq(']');
      case '(':
        return new EdnList(this.readSeq(')'));
      case '{':
        return this.readMap();
      case '\\':
        return this.readChar();
      case '#':
        return this.readDispatch();
      case ')':
      case ']':
      case '}':
        throw this.error(`unexpected '${c}'`);
      default:
        return this.readAtom();
    }
  }

  private enter(): void {
    if (++this.depth > NESTING_MAX) throw this.error(`nesting deeper than ${NESTING_MAX}`);
  }

  private readSeq(close: string): EdnValue[] {
    this.enter();
    this.next(); // the opening bracket
    const items: EdnValue[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c === undefined) throw this.error(`unterminated collection, expected '${close}'`);
      if (c === close) {
        this.next();
        this.depth--;
        return items;
      }
      if (c === ')' || c === ']' || c === '}') throw this.error(`expected '${close}', got '${c}'`);
      const v = this.readValue();
      if (v !== DISCARDED) items.push(v);
    }
  }

  private readMap(): Map<EdnValue, EdnValue> {
    const line = this.line;
    const column = this.column;
    const items = this.readSeq('}');
    if (items.length % 2 !== 0) throw this.error('map with an odd number of forms', line, column);
    const map = new Map<EdnValue, EdnValue>();
    for (let i = 0; i < items.length; i += 2) map.set(items[i]!, items[i + 1]!);
    return map;
  }

  private readDispatch(): Read {
    this.next(); // '#'
    const c = this.peek();
    if (c === '{') return new Set(this.readSeq('}'));
    if (c === '_') {
      this.next();
      this.readValue();
      return DISCARDED;
    }
    throw this.error(`unsupported dispatch '#${c ?? ''}'`);
  }

  private readString(): string {
    this.next(); // opening quote
    let out = '';
    for (;;) {
      if (this.atEnd()) throw this.error('unterminated string');
      const c = this.next();
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      if (this.atEnd()) throw this.error('unterminated string');
      const e = this.next();
      if (e === 'u') {
        const hex = this.text.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('bad \\u escape');
        for (let i = 0; i < 4; i++) this.next();
        out += String.fromCharCode(parseInt(hex, 16));
        continue;
      }
      const mapped = STRING_ESCAPES[e];
      if (mapped === undefined) throw this.error(`bad escape '\\${e}'`);
      out += mapped;
    }
  }

  private readToken(): string {
    let token = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined || DELIMITERS.has(c) || /\s/.test(c)) return token;
      token += this.next();
    }
  }

  private readChar(): string {
    this.next(); // backslash
    if (this.atEnd()) throw this.error('unexpected end of input after \\');
    const first = this.next();
    const rest = this.readToken();
    if (rest === '') return first;
    const name = first + rest;
    const named = NAMED_CHARS[name];
    if (named !== undefined) return named;
    if (/^u[0-9a-fA-F]{4}$/.test(name)) return String.fromCharCode(parseInt(name.slice(1), 16));
    throw this.error(`unknown character '\\${name}'`);
  }

  private readAtom(): EdnValue {
    // Errors point at the start of the token rather than where reading it stopped.
    const line = this.line;
    const column = this.column;
    const bad = (message: string): TesseraError => this.error(message, line, column);
    const token = this.readToken();
    if (token === '') throw bad(`unexpected '${this.peek() ?? ''}'`);
    return this.atom(token, bad);
  }

  private atom(token: string, bad: (message: string) => TesseraError): EdnValue {
    if (token === 'nil') return null;
    if (token === 'true') return true;
    if (token === 'false') return false;
    if (token.startsWith(':')) {
      const name = token.slice(1);
      if (name === '' || name.startsWith(':') || name.includes(':')) {
        throw bad(`bad keyword '${token}'`);
      }
      return Keyword.of(name);
    }
    if (/^[+-]?\d/.test(token)) return number(token, bad);
    if (/^[^\d#:'][^]*$/.test(token)) return EdnSymbol.of(token);
    throw bad(`bad token '${token}'`);
  }
}

function number(token: string, bad: (message: string) => TesseraError): number {
  const m = /^([+-]?(?:0|[1-9]\d*))(?:N)?$/.exec(token);
  if (m) return Number(m[1]);
  const f = /^([+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)M?$/.exec(token);
  if (f) return Number(f[1]);
  throw bad(`bad number '${token}'`);
}
