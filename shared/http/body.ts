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

/** Parse a JSON body against a schema; an empty body is treated as `{}`. 400 names each bad field. */
export async function readJsonBody<S extends z.ZodType>(
  request: HttpRequest,
  schema: S,
  maxBytes = maxApiBodyBytes,
): Promise<z.output<S>> {
  const text = await readBodyText(request, maxBytes);
  const value = text.trim() === '' ? {} : parseJsonText(text);
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
