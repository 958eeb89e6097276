// chunkedBody: a response body produced a chunk per read; a failure before the first byte throws to
// the handler (an error status), one after it ends the body with a note and is logged.
import type { ReadableStream } from 'node:stream/web';
import { describe, expect, it } from 'vitest';
import { chunkedBody } from '../../shared/http/stream.js';

async function readAll(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const quiet = { failedText: () => '<p>stopped</p>', onError: () => undefined };

describe('chunkedBody', () => {
  it('sends the chunks as UTF-8, one chunk per read', async () => {
    const chunks = ['<p>10:00 – 11:00</p>', '', 'Zoë · ±0 · −3 ', '<p>end</p>'];
    const body = chunkedBody(chunks, quiet);
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    for await (const chunk of body) {
      sizes.push(chunk.byteLength);
      parts.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(parts).equals(Buffer.from(chunks.join(''), 'utf8'))).toBe(true);
    expect(sizes).toEqual(chunks.map((c) => Buffer.byteLength(c)));
  });

  it('produces the first chunk at once and each later one only when it is read', async () => {
    let produced = 0;
    function* chunks(): Generator<string> {
      for (let i = 0; i < 3; i++) {
        produced += 1;
        yield `chunk ${i};`;
      }
    }
    const body = chunkedBody(chunks(), quiet);
    expect(produced).toBe(1);
    const reader = body.getReader();
    await new Promise((r) => setTimeout(r, 10));
    expect(produced).toBe(1);
    expect(Buffer.from((await reader.read()).value ?? []).toString()).toBe('chunk 0;');
    expect(produced).toBe(1);
    expect(Buffer.from((await reader.read()).value ?? []).toString()).toBe('chunk 1;');
    expect(produced).toBe(2);
    await reader.cancel();
  });

  it('throws a failure in the first chunk to the caller, before anything is sent', () => {
    const chunks: Iterable<string> = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw new Error('render failed');
        },
      }),
    };
    expect(() => chunkedBody(chunks, quiet)).toThrow('render failed');
  });

  it('ends the body with the note and tells of a failure after the first chunk', async () => {
    const errors: unknown[] = [];
    function* chunks(): Generator<string> {
      yield '<p>first</p>';
      yield '<p>second</p>';
      throw new Error('row 3 failed');
    }
    const body = chunkedBody(chunks(), {
      failedText: (err) => `<p>stopped: ${(err as Error).message}</p>`,
      onError: (err) => errors.push(err),
    });
    expect((await readAll(body)).toString()).toBe(
      '<p>first</p><p>second</p><p>stopped: row 3 failed</p>',
    );
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('row 3 failed');
  });

  it('stops the render when the reader goes away', async () => {
    let finished = false;
    function* chunks(): Generator<string> {
      try {
        for (;;) yield 'x';
      } finally {
        finished = true;
      }
    }
    const reader = chunkedBody(chunks(), quiet).getReader();
    await reader.read();
    await reader.cancel();
    expect(finished).toBe(true);
  });
});
