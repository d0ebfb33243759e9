/**
 * The shell's parser: statements of the form `command arg, arg, …` (parentheses around the
 * arguments are allowed, as in Ruby), separated by `;` or newlines. Arguments are strings,
 * integers, `true`/`false`/`nil`, `[arrays]` and `{KEY => value}` hashes whose keys are bare
 * words or strings. Pure: no I/O.
 */
import { fromUtf8, utf8 } from '../../util/bytes.js';
import { syntaxError, tokenize, type Position, type Token } from './lexer.js';

export type Value =
  | (Position & { readonly kind: 'string'; readonly bytes: Uint8Array; readonly text: string })
  | (Position & { readonly kind: 'int'; readonly value: bigint })
  | (Position & { readonly kind: 'bool'; readonly value: boolean })
  | (Position & { readonly kind: 'nil' })
  | (Position & { readonly kind: 'array'; readonly items: readonly Value[] })
  | (Position & { readonly kind: 'hash'; readonly entries: readonly HashEntry[] });

export interface HashEntry {
  /** The key as written (bare word or string text); commands match it case-insensitively. */
  readonly key: string;
  readonly keyPos: Position;
  readonly value: Value;
}

export interface Statement extends Position {
  readonly command: string;
  readonly args: readonly Value[];
  /** The statement's source text, for history and messages. */
  readonly source: string;
}

/**
 * Commands (lower case) whose arguments may be bare words, read as strings, as in cqlsh:
 * `CONSISTENCY QUORUM`. Everywhere else a bare word is only a hash key, so that a forgotten
 * quote (`get users, 'r1'`) fails at parse time, before any statement of a script runs.
 */
export const bareWordCommands: readonly string[] = ['consistency'];

/** Deepest nesting of arrays and hashes; a bound on recursion. */
export const valueDepthMax = 32;

class Parser {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly src: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    const t = this.tokens[this.i]!;
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isPunct(t: Token, text: string): boolean {
    return t.kind === 'punct' && t.text === text;
  }

  private describe(t: Token): string {
    switch (t.kind) {
      case 'eof':
        return 'end of input';
      case 'separator':
        return t.text === ';' ? "';'" : 'end of line';
      case 'string':
        return `string ${t.raw}`;
      case 'int':
        return `number ${t.raw}`;
      case 'word':
        return `'${t.text}'`;
      case 'punct':
        return `'${t.text}'`;
    }
  }

  statements(): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return out;
      if (t.kind === 'separator') {
        this.next();
        continue;
      }
      out.push(this.statement());
    }
  }

  private statement(): Statement {
    const head = this.next();
    if (head.kind !== 'word') {
      throw syntaxError(
        `expected a command name, found ${this.describe(head)}`,
        head,
        "statements start with a command, e.g. scan 'users'; type help for the list",
      );
    }
    const args: Value[] = [];
    const bareWords = bareWordCommands.includes(head.text.toLowerCase());
    let paren = false;
    if (this.isPunct(this.peek(), '(')) {
      paren = true;
      this.next();
    }
    const ends = (t: Token): boolean =>
      paren ? this.isPunct(t, ')') : t.kind === 'eof' || t.kind === 'separator';
    if (!ends(this.peek())) {
      for (;;) {
        if (this.startsBareHash()) args.push(this.bareHash());
        else if (bareWords && this.peek().kind === 'word') args.push(this.bareWord());
        else args.push(this.value(0));
        const t = this.peek();
        if (ends(t)) break;
        if (this.isPunct(t, ',')) {
          this.next();
          // A trailing comma continues the statement on the next line.
          this.skipNewlines();
          continue;
        }
        throw syntaxError(
          `expected ',' or end of statement, found ${this.describe(t)}`,
          t,
          'separate arguments with commas',
        );
      }
    }
    if (paren) {
      this.next();
      const t = this.peek();
      if (t.kind !== 'eof' && t.kind !== 'separator') {
        throw syntaxError(`unexpected ${this.describe(t)} after ')'`, t);
      }
    }
    const end = this.peek().offset;
    return {
      offset: head.offset,
      line: head.line,
      column: head.column,
      command: head.text,
      args,
      source: this.src.slice(head.offset, end).trim(),
    };
  }

  private value(depth: number): Value {
    const t = this.next();
    const pos: Position = { offset: t.offset, line: t.line, column: t.column };
    if (depth >= valueDepthMax) {
      throw syntaxError(`values nest deeper than ${valueDepthMax} levels`, t);
    }
    switch (t.kind) {
      case 'string':
        return { ...pos, kind: 'string', bytes: t.bytes, text: fromUtf8(t.bytes) };
      case 'int':
        return { ...pos, kind: 'int', value: t.value };
      case 'word':
        if (t.text === 'true' || t.text === 'false') {
          return { ...pos, kind: 'bool', value: t.text === 'true' };
        }
        if (t.text === 'nil') return { ...pos, kind: 'nil' };
        throw syntaxError(
          `unexpected word '${t.text}'`,
          t,
          `quote strings: '${t.text}' (bare words are only hash keys, e.g. {${t.text} => …})`,
        );
      case 'punct':
        if (t.text === '[') return this.array(pos, depth);
        if (t.text === '{') return this.hash(pos, depth);
        break;
      default:
        break;
    }
    throw syntaxError(
      `expected a value, found ${this.describe(t)}`,
      t,
      t.kind === 'eof' || t.kind === 'separator'
        ? 'the statement ends too early'
        : "values are 'strings', numbers, [arrays] or {KEY => value} hashes",
    );
  }

  /** A bare word as the string it spells (only for bareWordCommands). */
  private bareWord(): Value {
    const t = this.next();
    if (t.kind !== 'word') throw syntaxError(`expected a word, found ${this.describe(t)}`, t);
    const pos: Position = { offset: t.offset, line: t.line, column: t.column };
    return { ...pos, kind: 'string', bytes: utf8(t.text), text: t.text };
  }

  /** Ruby lets the last argument be a hash without braces: `scan 't', LIMIT => 10`. */
  private startsBareHash(): boolean {
    const k = this.peek();
    const arrow = this.tokens[this.i + 1];
    return (
      (k.kind === 'word' || k.kind === 'string') && arrow !== undefined && this.isPunct(arrow, '=>')
    );
  }

  private bareHash(): Value {
    const first = this.peek();
    const pos: Position = { offset: first.offset, line: first.line, column: first.column };
    const entries: HashEntry[] = [];
    for (;;) {
      entries.push(this.entry(entries, 0));
      const comma = this.peek();
      if (!this.isPunct(comma, ',')) break;
      this.next();
      this.skipNewlines();
      if (!this.startsBareHash()) {
        throw syntaxError(
          `expected KEY => value after ',' (KEY => value pairs must come last), found ${this.describe(this.peek())}`,
          this.peek(),
          'wrap options in braces: {KEY => value}',
        );
      }
    }
    return { ...pos, kind: 'hash', entries };
  }

  private entry(entries: readonly HashEntry[], depth: number): HashEntry {
    const k = this.next();
    let key: string;
    if (k.kind === 'word') key = k.text;
    else if (k.kind === 'string') key = fromUtf8(k.bytes);
    else {
      throw syntaxError(
        `expected a hash key, found ${this.describe(k)}`,
        k,
        "write entries as KEY => value, e.g. {NAME => 'info'}",
      );
    }
    const arrow = this.next();
    if (!this.isPunct(arrow, '=>')) {
      throw syntaxError(
        `expected '=>' after hash key '${key}', found ${this.describe(arrow)}`,
        arrow,
        `write ${key} => value`,
      );
    }
    this.skipNewlines();
    const value = this.value(depth + 1);
    if (entries.some((e) => e.key === key)) {
      throw syntaxError(`hash key '${key}' given twice`, k);
    }
    return { key, keyPos: { offset: k.offset, line: k.line, column: k.column }, value };
  }

  private array(pos: Position, depth: number): Value {
    const items: Value[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isPunct(this.peek(), ']')) break;
      items.push(this.value(depth + 1));
      this.skipNewlines();
      const t = this.peek();
      if (this.isPunct(t, ',')) {
        this.next();
        continue;
      }
      if (this.isPunct(t, ']')) break;
      throw syntaxError(
        `expected ',' or ']' in array, found ${this.describe(t)}`,
        t,
        `close the array opened at line ${pos.line}, column ${pos.column}`,
      );
    }
    this.next();
    return { ...pos, kind: 'array', items };
  }

  private hash(pos: Position, depth: number): Value {
    const entries: HashEntry[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isPunct(this.peek(), '}')) {
        this.next();
        break;
      }
      entries.push(this.entry(entries, depth));
      this.skipNewlines();
      const t = this.next();
      if (this.isPunct(t, ',')) continue;
      if (this.isPunct(t, '}')) break;
      throw syntaxError(
        `expected ',' or '}' in hash, found ${this.describe(t)}`,
        t,
        `close the hash opened at line ${pos.line}, column ${pos.column}`,
      );
    }
    return { ...pos, kind: 'hash', entries };
  }

  private skipNewlines(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'separator' && t.text === '\n') this.next();
      else return;
    }
  }
}

/** Parses shell input into statements; INVALID_ARGUMENT with line/column on a syntax error. */
export function parse(src: string): Statement[] {
  return new Parser(tokenize(src), src).statements();
}

/** The input line with a caret under `column`, for error messages. */
export function pointAt(src: string, line: number, column: number): string {
  const text = src.split('\n')[line - 1] ?? '';
  return `${text}\n${' '.repeat(Math.max(0, column - 1))}^`;
}
