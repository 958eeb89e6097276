// selectJson reads chosen fields from JSON bytes: what it keeps must be exactly what JSON.parse gives
// for those fields, whatever the rest of the document holds, and what is not JSON must be refused.
import { describe, expect, it } from 'vitest';
import { selectJson, type JsonShape } from '../../shared/octopus/selectJson.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What selectJson should give: JSON.parse, then only the shape's fields. */
function project(value: Json, shape: JsonShape | readonly [JsonShape] | true): unknown {
  if (shape === true) return value;
  if (Array.isArray(shape)) {
    const item = (shape as readonly [JsonShape])[0];
    return Array.isArray(value) ? value.map((v) => project(v, item)) : value;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [name, want] of Object.entries(shape as JsonShape))
    if (Object.hasOwn(value, name)) out[name] = project(value[name] as Json, want);
  return out;
}

function check(value: Json, shape: JsonShape, text = JSON.stringify(value)): void {
  expect(selectJson(Buffer.from(text, 'utf8'), shape)).toEqual(project(value, shape));
}

const tricky: Json[] = [
  '',
  'plain',
  'quote " inside',
  'backslash \\ and \\" and \\\\',
  'ends with backslash \\',
  'unicode ü ✓ 😀 and \u0001 control',
  '}{][,:',
  0,
  -1.5e-7,
  12345678901234,
  true,
  false,
  null,
  [],
  {},
  [1, 'two', { three: [3] }],
  { nested: { deeper: ['x', { y: 'z"}' }] } },
];

describe('selectJson', () => {
  it('keeps chosen fields exactly as JSON.parse gives them, whatever the skipped values hold', () => {
    for (const v of tricky) {
      const item = { Id: 'Tasks-1', Skip: v, Keep: v, Links: { Web: '/app#/x', Other: v } };
      const shape: JsonShape = { Id: true, Keep: true, Links: { Web: true } };
      check(
        { TotalResults: 2, Items: [item, { ...item, Id: 'Tasks-2' }] },
        {
          TotalResults: true,
          Items: [shape],
        },
      );
      // Pretty-printed, with every kind of whitespace JSON allows.
      check(item, shape, JSON.stringify(item, null, '\t').replace(/\n/g, '\r\n'));
    }
  });

  it('decodes escapes in kept strings and ignores names written with escapes', () => {
    const text = '{"Name":"a\\u00fcb\\n\\"c\\"","\\u0049d":"escaped name","Id":"real"}';
    expect(selectJson(Buffer.from(text), { Name: true, Id: true })).toEqual({
      Name: 'aüb\n"c"',
      Id: 'real',
    });
  });

  it('keeps a value whole where the shape expects an object or array and it is not one', () => {
    check(
      { Links: null, Items: 'none', TenantId: { a: 1 } },
      {
        Links: { Web: true },
        Items: [{ Id: true }],
        TenantId: true,
      },
    );
  });

  it('reads through a byte order mark and surrounding whitespace', () => {
    const text = '\ufeff  {"Id": "x"}\n';
    expect(selectJson(Buffer.from(text, 'utf8'), { Id: true })).toEqual({ Id: 'x' });
  });

  it('refuses what is not JSON, as JSON.parse would', () => {
    for (const text of [
      '<!DOCTYPE html><html><body>Sign in</body></html>',
      '{"Id": "x"',
      '{"Id": "x"} trailing',
      '{"Id" "x"}',
      '{"Id": "x",}',
      '{"Items": [1, 2',
      '{"Id": "unterminated}',
      '',
    ]) {
      expect(() => selectJson(Buffer.from(text), { Id: true, Items: [{ Id: true }] })).toThrow(
        SyntaxError,
      );
    }
  });
});
