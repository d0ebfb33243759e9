/**
 * The shell's lexer: the Ruby-ish literals of the HBase shell.
 *
 * - `'single'` strings are Ruby single-quoted: only `\\` and `\'` are escapes, every other
 *   backslash is literal (so `'a\x41'` is five characters, exactly as in the HBase shell).
 * - `"double"` strings take `\xNN` (one raw byte), `\n \t \r \0 \e \a \b \f \v`, `\\`, `\"`,
 *   `\'` and `\u{...}`/`\uNNNN`. A string's value is bytes (UTF-8 plus any raw `\xNN`).
 * - integers: optional sign, decimal digits (underscores allowed between digits) or `0x…`.
 * - bare words (`create`, `NAME`, `true`), `=>`, `{ } [ ] ,`, `;` and newlines (statement
 *   separators), and `#` comments to the end of the line.
 *
 * Every token carries its 1-based line and column; every error is INVALID_ARGUMENT with the
 * position in its message and in `details` (line, column, hint).
 */
import { TesseraError } from '../../util/errors.js';

export interface Position {
  readonly offset: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export type Token =
  | (Position & { readonly kind: 'string'; readonly bytes: Uint8Array; readonly raw: string })
  | (Position & { readonly kind: 'int'; readonly value: bigint; readonly raw: string })
  | (Position & { readonly kind: 'word'; readonly text: string })
  | (Position & {
      readonly kind: 'punct';
      readonly text: '{' | '}' | '[' | ']' | ',' | '=>' | '(' | ')';
    })
  | (Position & { readonly kind: 'separator'; readonly text: ';' | '\n' })
  | (Position & { readonly kind: 'eof' });

/** Longest input the shell accepts in one go; a bound on lexer work. */
export const shellInputCharsMax = 16 * 1024 * 1024;

/** INVALID_ARGUMENT pointing at a place in the input. */
export function syntaxError(message: string, at: Position, hint?: string): TesseraError {
  const where = `line ${at.line}, column ${at.column}`;
  return new TesseraError(
    'INVALID_ARGUMENT',
    `${message} at ${where}${hint === undefined ? '' : ` (hint: ${hint})`}`,
    { line: at.line, column: at.column, offset: at.offset, hint },
  );
}

const doubleEscapes: Readonly<Record<string, number>> = {
  n: 0x0a,
  t: 0x09,
  r: 0x0d,
  '0': 0x00,
  e: 0x1b,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  v: 0x0b,
  s: 0x20,
  '\\': 0x5c,
  '"': 0x22,
  "'": 0x27,
};

const wordStart = /[A-Za-z_]/;
const wordChar = /[A-Za-z0-9_?!]/;

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  readonly tokens: Token[] = [];

  constructor(private readonly src: string) {}

  private here(): Position {
    return { offset: this.pos, line: this.line, column: this.pos - this.lineStart + 1 };
  }

  private at(offset: number): Position {
    // Only called for offsets on the current line.
    return { offset, line: this.line, column: offset - this.lineStart + 1 };
  }

  private newline(): void {
    this.line++;
    this.lineStart = this.pos;
  }

  run(): Token[] {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      const start = this.here();
      if (c === '\n') {
        this.pos++;
        this.tokens.push({ ...start, kind: 'separator', text: '\n' });
        this.newline();
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
      } else if (c === ';') {
        this.pos++;
        this.tokens.push({ ...start, kind: 'separator', text: ';' });
      } else if (c === '=' && s[this.pos + 1] === '>') {
        this.pos += 2;
        this.tokens.push({ ...start, kind: 'punct', text: '=>' });
      } else if ('{}[],()'.includes(c)) {
        this.pos++;
        this.tokens.push({ ...start, kind: 'punct', text: c as '{' });
      } else if (c === "'" || c === '"') {
        this.tokens.push(this.string(c, start));
      } else if (
        /[0-9]/.test(c) ||
        ((c === '-' || c === '+') && /[0-9]/.test(s[this.pos + 1] ?? ''))
      ) {
        this.tokens.push(this.integer(start));
      } else if (wordStart.test(c)) {
        let end = this.pos + 1;
        while (end < s.length && wordChar.test(s[end]!)) end++;
        this.tokens.push({ ...start, kind: 'word', text: s.slice(this.pos, end) });
        this.pos = end;
      } else if (c === ':' && wordStart.test(s[this.pos + 1] ?? '')) {
        // Ruby symbols (:NAME) read as bare words.
        let end = this.pos + 2;
        while (end < s.length && wordChar.test(s[end]!)) end++;
        this.tokens.push({ ...start, kind: 'word', text: s.slice(this.pos + 1, end) });
        this.pos = end;
      } else {
        const hint =
          c === '='
            ? "hash entries are written KEY => value, with '=>'"
            : c === '`'
              ? 'quote strings with \' or "'
              : 'strings need quotes';
        throw syntaxError(`unexpected character '${c}'`, start, hint);
      }
    }
    this.tokens.push({ ...this.here(), kind: 'eof' });
    return this.tokens;
  }

  private integer(start: Position): Token {
    const s = this.src;
    let end = this.pos;
    if (s[end] === '-' || s[end] === '+') end++;
    const hex = s[end] === '0' && (s[end + 1] === 'x' || s[end + 1] === 'X');
    const digit = hex ? /[0-9A-Fa-f_]/ : /[0-9_]/;
    if (hex) end += 2;
    while (end < s.length && digit.test(s[end]!)) end++;
    const raw = s.slice(this.pos, end);
    if (end < s.length && /[A-Za-z0-9_.]/.test(s[end]!)) {
      throw syntaxError(
        `malformed number '${raw}${s[end]}'`,
        this.at(end),
        s[end] === '.' ? 'only integers are accepted' : 'quote it if it is a string',
      );
    }
    const body = raw.replace(/_/g, '');
    const neg = body.startsWith('-');
    const digits = body.replace(/^[-+]/, '');
    if (/__|_$|^[-+]?_/.test(raw) || digits === '' || digits === '0x' || digits === '0X') {
      throw syntaxError(`malformed number '${raw}'`, start);
    }
    const magnitude = BigInt(digits);
    this.pos = end;
    return { ...start, kind: 'int', value: neg ? -magnitude : magnitude, raw };
  }

  private string(quote: "'" | '"', start: Position): Token {
    const s = this.src;
    const bytes: number[] = [];
    const enc = new TextEncoder();
    const pushText = (t: string): void => {
      for (const b of enc.encode(t)) bytes.push(b);
    };
    this.pos++;
    let chunkStart = this.pos;
    const flush = (end: number): void => {
      if (end > chunkStart) pushText(s.slice(chunkStart, end));
    };
    for (;;) {
      if (this.pos >= s.length) {
        throw syntaxError(
          `unterminated string`,
          start,
          `close it with ${quote === "'" ? 'a single quote' : 'a double quote'}`,
        );
      }
      const c = s[this.pos]!;
      if (c === quote) {
        flush(this.pos);
        this.pos++;
        break;
      }
      if (c === '\n') {
        // Strings may span lines (as in Ruby); keep positions right.
        this.pos++;
        this.newline();
        continue;
      }
      if (c !== '\\') {
        this.pos++;
        continue;
      }
      flush(this.pos);
      const escPos = this.here();
      const e = s[this.pos + 1];
      if (e === undefined) throw syntaxError('unterminated string', start);
      if (quote === "'") {
        // Ruby single quotes: only \\ and \' escape.
        if (e === '\\' || e === "'") {
          bytes.push(e.charCodeAt(0));
          this.pos += 2;
        } else {
          bytes.push(0x5c);
          this.pos += 1;
        }
      } else if (e === 'x') {
        const m = /^[0-9A-Fa-f]{1,2}/.exec(s.slice(this.pos + 2, this.pos + 4));
        if (!m) {
          throw syntaxError(
            'invalid \\x escape',
            escPos,
            'write \\x followed by one or two hex digits, e.g. "\\x00"',
          );
        }
        bytes.push(parseInt(m[0], 16));
        this.pos += 2 + m[0].length;
      } else if (e === 'u') {
        const m =
          /^\{([0-9A-Fa-f]{1,6})\}/.exec(s.slice(this.pos + 2)) ??
          /^([0-9A-Fa-f]{4})/.exec(s.slice(this.pos + 2));
        const cp = m ? parseInt(m[1]!, 16) : NaN;
        if (!m || cp > 0x10ffff) {
          throw syntaxError('invalid \\u escape', escPos, 'write \\uNNNN or \\u{N…}');
        }
        pushText(String.fromCodePoint(cp));
        this.pos += 2 + m[0].length;
      } else if (e === '\n') {
        // A backslash-newline inside double quotes joins the lines (as in Ruby).
        this.pos += 2;
        this.newline();
      } else {
        const b = doubleEscapes[e];
        // Unknown escapes stand for the character itself, as in Ruby.
        if (b === undefined) pushText(e);
        else bytes.push(b);
        this.pos += 2;
      }
      chunkStart = this.pos;
    }
    return {
      ...start,
      kind: 'string',
      bytes: Uint8Array.from(bytes),
      raw: s.slice(start.offset, this.pos),
    };
  }
}

/** Splits shell input into tokens (ending with an `eof` token); INVALID_ARGUMENT on bad input. */
export function tokenize(src: string): Token[] {
  if (src.length > shellInputCharsMax) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `shell input is longer than ${shellInputCharsMax} characters`,
    );
  }
  return new Lexer(src).run();
}

/**
 * Whether `src` is ready to run, for multi-line input: false while a string is open, a bracket
 * is unclosed, or the last token is a comma or `=>` (the statement obviously goes on).
 */
export function isInputComplete(src: string): boolean {
  let tokens: Token[];
  try {
    tokens = tokenize(src);
  } catch (err) {
    const msg = err instanceof Error ? err.message : '';
    return !msg.startsWith('unterminated string');
  }
  let depth = 0;
  let last: Token | undefined;
  for (const t of tokens) {
    if (t.kind === 'punct') {
      if (t.text === '{' || t.text === '[' || t.text === '(') depth++;
      else if (t.text === '}' || t.text === ']' || t.text === ')') depth--;
    }
    if (t.kind !== 'eof' && !(t.kind === 'separator' && t.text === '\n')) last = t;
  }
  if (depth > 0) return false;
  if (last?.kind === 'punct' && (last.text === ',' || last.text === '=>')) return false;
  return true;
}
