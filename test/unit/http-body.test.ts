import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readBodyText, readJsonBody } from '../../shared/http/body.js';
import { HttpError } from '../../shared/http/errors.js';

const post = (body: string, headers: Record<string, string> = {}) =>
  new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/x',
    headers,
    body: { string: body },
  });

describe('request bodies', () => {
  it('refuses an oversized body without Content-Length while reading (413), and a declared one before', async () => {
    const chunked = await readBodyText(post('x'.repeat(70_000)), 64 * 1024).catch(
      (e: unknown) => e,
    );
    expect(chunked).toBeInstanceOf(HttpError);
    expect(chunked).toMatchObject({
      status: 413,
      message: expect.stringMatching(/more than 65536 bytes/),
    });
    const declared = await readBodyText(
      post('{}', { 'content-length': '999999' }),
      64 * 1024,
    ).catch((e: unknown) => e);
    expect(declared).toMatchObject({ status: 413, message: expect.stringMatching(/999999 bytes/) });
  });

  it('names each bad field, and treats an empty body as {}', async () => {
    const schema = z.strictObject({
      holder: z.string().min(1),
      permits: z.number().int().optional(),
    });
    const err = (await readJsonBody(post('{"holder":"","permits":1.5}'), schema).catch(
      (e: unknown) => e,
    )) as HttpError;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/holder: /);
    expect(err.message).toMatch(/permits: /);
    expect(await readJsonBody(post(''), z.object({ a: z.string().optional() }))).toEqual({});
    expect(await readJsonBody(post('{not json'), schema).catch((e: unknown) => e)).toMatchObject({
      status: 400,
      code: 'invalid_json',
    });
  });
});
