// Reads only chosen fields out of a JSON response, straight from its bytes. A page of 1,000 tasks or
// deployments is about 1.5 MB of which a report keeps a few fields per item: decoding the whole page
// to a string and parsing every object costs several times more CPU and memory (mostly garbage
// collection) than stepping over the bytes it does not need.

/**
 * Which fields to keep: `true` keeps the value as JSON.parse would give it; a nested shape keeps
 * only those fields of an object; `[shape]` keeps those fields of every element of an array.
 * Anything not named is skipped without being decoded.
 */
export interface JsonShape {
  readonly [field: string]: true | JsonShape | readonly [JsonShape];
}

type Want = true | JsonShape | readonly [JsonShape];

interface Field {
  name: string;
  bytes: Buffer;
  want: Want;
}

interface Compiled {
  /** Field names by their length in UTF-8 bytes, each with its bytes. */
  byLength: Map<number, Field[]>;
}

const compiledShapes = new WeakMap<JsonShape, Compiled>();

function compile(shape: JsonShape): Compiled {
  let compiled = compiledShapes.get(shape);
  if (compiled) return compiled;
  compiled = { byLength: new Map() };
  for (const [name, want] of Object.entries(shape)) {
    const bytes = Buffer.from(name, 'utf8');
    const list = compiled.byLength.get(bytes.length) ?? [];
    list.push({ name, bytes, want });
    compiled.byLength.set(bytes.length, list);
  }
  compiledShapes.set(shape, compiled);
  return compiled;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

class Reader {
  pos = 0;
  constructor(private readonly bytes: Buffer) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at byte ${this.pos} of the JSON`);
  }

  space(): void {
    const b = this.bytes;
    while (isSpace(b[this.pos])) this.pos += 1;
  }

  expect(c: number, what: string): void {
    this.space();
    if (this.bytes[this.pos] !== c) this.fail(`expected ${what}`);
    this.pos += 1;
  }

  /** At an opening quote: steps past the closing one (found with a native search, not byte by byte). */
  skipString(): void {
    const b = this.bytes;
    let q = this.pos + 1;
    // Most strings are short: look at the first bytes here, search natively past them.
    const near = Math.min(q + 48, b.length);
    while (q < near && b[q] !== QUOTE && b[q] !== BACKSLASH) q += 1;
    if (b[q] === QUOTE) {
      this.pos = q + 1;
      return;
    }
    for (;;) {
      q = b.indexOf(QUOTE, q);
      if (q === -1) this.fail('unterminated string');
      // Escaped when an odd number of backslashes stands right before it.
      let slashes = 0;
      while (b[q - 1 - slashes] === BACKSLASH) slashes += 1;
      if (slashes % 2 === 0) break;
      q += 1;
    }
    this.pos = q + 1;
  }

  /** Steps over one value of any kind without decoding it. */
  skipValue(): void {
    this.space();
    const b = this.bytes;
    const c = b[this.pos];
    if (c === QUOTE) {
      this.skipString();
      return;
    }
    if (c === OPEN_OBJECT) {
      this.pos += 1;
      this.space();
      if (b[this.pos] === CLOSE_OBJECT) {
        this.pos += 1;
        return;
      }
      for (;;) {
        this.space();
        if (b[this.pos] !== QUOTE) this.fail('expected a field name');
        this.skipString();
        this.expect(COLON, ':');
        this.skipValue();
        if (this.endOf(CLOSE_OBJECT, '}')) return;
      }
    }
    if (c === OPEN_ARRAY) {
      this.pos += 1;
      this.space();
      if (b[this.pos] === CLOSE_ARRAY) {
        this.pos += 1;
        return;
      }
      for (;;) {
        this.skipValue();
        if (this.endOf(CLOSE_ARRAY, ']')) return;
      }
    }
    // A number, true, false or null: up to the next delimiter.
    const start = this.pos;
    while (this.pos < b.length) {
      const d = b[this.pos];
      if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isSpace(d)) break;
      this.pos += 1;
    }
    if (this.pos === start) this.fail('expected a value');
  }

  /** After an element: true at the closing bracket (stepped over), false at a comma. */
  endOf(close: number, what: string): boolean {
    this.space();
    const next = this.bytes[this.pos];
    if (next === close) {
      this.pos += 1;
      return true;
    }
    if (next !== COMMA) this.fail(`expected , or ${what}`);
    this.pos += 1;
    return false;
  }

  /** True when the bytes in [from, to) hold a backslash. */
  hasEscape(from: number, to: number): boolean {
    const b = this.bytes;
    for (let p = from; p < to; p++) if (b[p] === BACKSLASH) return true;
    return false;
  }

  /** One value decoded whole (as JSON.parse would), or by `want` when it is an object or array. */
  value(want: Want): unknown {
    this.space();
    const b = this.bytes;
    const c = b[this.pos];
    if (c === OPEN_OBJECT && want !== true && !isArrayWant(want)) return this.object(want);
    if (c === OPEN_ARRAY && isArrayWant(want)) return this.array(want[0]);
    const start = this.pos;
    if (c === QUOTE) {
      this.skipString();
      // The common case, no escapes: the bytes between the quotes are the string.
      if (!this.hasEscape(start + 1, this.pos - 1))
        return b.toString('utf8', start + 1, this.pos - 1);
    } else this.skipValue();
    return JSON.parse(b.toString('utf8', start, this.pos)) as unknown;
  }

  /**
   * The wanted field a name at [from, to) is (compared as bytes, so a name written with escapes
   * never matches: no serializer escapes plain ASCII names).
   */
  field(byLength: Compiled['byLength'], from: number, to: number): Field | undefined {
    const candidates = byLength.get(to - from);
    if (!candidates) return undefined;
    const b = this.bytes;
    for (const candidate of candidates) {
      const bytes = candidate.bytes;
      let p = 0;
      while (p < bytes.length && bytes[p] === b[from + p]) p += 1;
      if (p === bytes.length) return candidate;
    }
    return undefined;
  }

  object(shape: JsonShape): Record<string, unknown> {
    const { byLength } = compile(shape);
    const b = this.bytes;
    const out: Record<string, unknown> = {};
    this.expect(OPEN_OBJECT, '{');
    this.space();
    if (b[this.pos] === CLOSE_OBJECT) {
      this.pos += 1;
      return out;
    }
    for (;;) {
      this.space();
      if (b[this.pos] !== QUOTE) this.fail('expected a field name');
      const start = this.pos;
      this.skipString();
      const field = this.field(byLength, start + 1, this.pos - 1);
      this.expect(COLON, ':');
      if (field) out[field.name] = this.value(field.want);
      else this.skipValue();
      if (this.endOf(CLOSE_OBJECT, '}')) return out;
    }
  }

  array(item: JsonShape): unknown[] {
    const b = this.bytes;
    const out: unknown[] = [];
    this.expect(OPEN_ARRAY, '[');
    this.space();
    if (b[this.pos] === CLOSE_ARRAY) {
      this.pos += 1;
      return out;
    }
    for (;;) {
      out.push(this.value(item));
      if (this.endOf(CLOSE_ARRAY, ']')) return out;
    }
  }
}

function isArrayWant(want: Want): want is readonly [JsonShape] {
  return Array.isArray(want);
}

/**
 * The JSON in `bytes` with only the fields `shape` names (objects where the shape expects them;
 * any other value is decoded whole). Throws SyntaxError where the bytes are not JSON, as far as it
 * reads them (skipped values are stepped over, not validated).
 */
export function selectJson(bytes: Buffer, shape: JsonShape): unknown {
  const reader = new Reader(bytes);
  // A UTF-8 byte order mark, as a text decoder would drop it.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) reader.pos = 3;
  const value = reader.value(shape);
  reader.space();
  if (reader.pos !== bytes.length) reader.fail('unexpected data after the JSON value');
  return value;
}
