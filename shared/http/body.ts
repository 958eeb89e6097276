// Read and validate a JSON request body: size limit first, then JSON, then the schema.
import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';
import { HttpError } from './errors.js';

/** Default limit for API request bodies. */
export const maxApiBodyBytes = 64 * 1024;

/**
 * Read the body as text, at most `maxBytes`: refused from `Content-Length` before reading, and while
 * reading when the body comes without one (chunked), so an oversized body is never read to its end.
 * `advice` is added to the 413 message (what the caller should check).
 */
export async function readBodyText(
  request: HttpRequest,
  maxBytes = maxApiBodyBytes,
  advice = '',
): Promise<string> {
  const tooLarge = (bytes: number, atLeast: boolean) =>
    new HttpError(
      413,
      'payload_too_large',
      `The request body is ${atLeast ? 'more than ' : ''}${bytes} bytes; the limit is ${maxBytes}.${advice ? ` ${advice}` : ''}`,
    );
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(declared, false);
  const body = request.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done) break;
    if (!value) continue;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes, true);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

/** Describe zod issues as "field: problem" lines that name where the problem is. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
}

/** Parse body text as JSON; 400 `invalid_json` otherwise. `advice` is added to the message. */
export function parseJsonText(text: string, advice = 'Send the body as JSON.'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(
      400,
      'invalid_json',
      `The request body is not valid JSON (${(err as Error).message}). ${advice}`,
    );
  }
}

/** API bodies nest far less than this (a playbook inside a condition inside a run request). */
export const maxJsonDepth = 64;

/** How deeply a parsed JSON value nests (iterative: a deep value must not overflow the stack here). */
export function jsonDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > stopAt) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>))
      stack.push([child, here]);
  }
  return deepest;
}

/** Parse a JSON body against a schema; an empty body is treated as `{}`. 400 names each bad field. */
export async function readJsonBody<S extends z.ZodType>(
  request: HttpRequest,
  schema: S,
  maxBytes = maxApiBodyBytes,
): Promise<z.output<S>> {
  const text = await readBodyText(request, maxBytes);
  const value = text.trim() === '' ? {} : parseJsonText(text);
  // Validating (and later evaluating) a value nested hundreds deep recurses past the stack: a 500.
  if (jsonDepth(value, maxJsonDepth) > maxJsonDepth)
    throw new HttpError(
      400,
      'too_deep',
      `The request body nests objects or arrays more than ${maxJsonDepth} levels deep; no request of this API needs that.`,
    );
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues);
    throw new HttpError(400, 'invalid_request', `Invalid request: ${problems.join('; ')}`, {
      problems,
    });
  }
  return parsed.data;
}

/** Validate query parameters against a schema (values are strings). */
export function readQuery<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  const raw: Record<string, string> = {};
  request.query.forEach((value, key) => {
    raw[key] = value;
  });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues);
    throw new HttpError(400, 'invalid_query', `Invalid query: ${problems.join('; ')}`, {
      problems,
    });
  }
  return parsed.data;
}
