import { describe, expect, it } from 'vitest';
import { CoordinatorError } from '../../shared/errors.js';
import { HttpError } from '../../shared/http/errors.js';
import { toErrorResponse } from '../../shared/http/handler.js';
import { LockError } from '../../shared/locks/errors.js';
import { OctopusError, type OctopusErrorInit } from '../../shared/octopus/errors.js';

const octopusError = (init: Partial<OctopusErrorInit>) =>
  new OctopusError({
    code: 'HttpError',
    message: 'Octopus said no',
    method: 'GET',
    path: '/api/Spaces-1/projects/Projects-9',
    ...init,
  });

function answer(err: unknown) {
  const r = toErrorResponse(err);
  const body = r.jsonBody as { error: { code: string; message: string; details?: unknown } };
  return { status: r.status, headers: r.headers, ...body.error };
}

describe('one path from errors to HTTP', () => {
  it('maps a name from a request that Octopus does not have to 404 naming it, not 500', () => {
    const a = answer(
      octopusError({
        code: 'NameNotFound',
        path: '/api/Spaces-1/projects',
        message: "Project 'Web Ap' was not found in space 'Default' (known: Web App).",
      }),
    );
    expect(a).toMatchObject({ status: 400, code: 'unknown_name' });
    expect(a.message).toContain('known: Web App');
    expect(a.message).toContain("Project 'Web Ap' was not found");
  });

  it('maps an Octopus 404 to 404 naming what Octopus does not have', () => {
    const a = answer(octopusError({ status: 404, errorMessage: 'The resource was not found.' }));
    expect(a).toMatchObject({ status: 404, code: 'octopus_not_found' });
    expect(a.message).toContain('/api/Spaces-1/projects/Projects-9');
  });

  it("maps 401 and 403 from Octopus to 502: the coordinator's Octopus key is refused", () => {
    for (const status of [401, 403]) {
      const a = answer(octopusError({ status }));
      expect(a).toMatchObject({ status: 502, code: 'octopus_key_refused' });
      expect(a.message).toContain("the coordinator's Octopus key is refused");
    }
  });

  it('maps an unreachable or overloaded Octopus to 503 with Retry-After when it said', () => {
    for (const init of [
      { code: 'NetworkError', retryable: true },
      { code: 'Timeout', retryable: true },
      { status: 503, retryable: true },
      { status: 429, retryable: true, retryAfterMs: 30_000 },
    ] as const) {
      const a = answer(octopusError(init));
      expect(a, JSON.stringify(init)).toMatchObject({ status: 503, code: 'octopus_unavailable' });
    }
    expect(answer(octopusError({ status: 429, retryAfterMs: 30_000 })).headers).toEqual({
      'Retry-After': '30',
    });
  });

  it('never answers 500 internal_error for an Octopus error', () => {
    const codes = [
      'HttpError',
      'Timeout',
      'NetworkError',
      'InvalidResponse',
      'NameNotFound',
      'CreateUnconfirmed',
      'InvalidRequest',
    ] as const;
    for (const code of codes)
      for (const status of [undefined, 400, 404, 409, 500, 502])
        expect(answer(octopusError({ code, status })).status, `${code} ${status}`).not.toBe(500);
  });

  it('maps domain errors by their kind, keeping their code and details', () => {
    expect(
      answer(new CoordinatorError('not_found', 'unknown_playbook', 'no playbook x', { known: [] })),
    ).toMatchObject({ status: 404, code: 'unknown_playbook', details: { known: [] } });
    expect(answer(new CoordinatorError('conflict', 'downgrade', 'newer'))).toMatchObject({
      status: 409,
      code: 'downgrade',
    });
    expect(answer(new CoordinatorError('invalid', 'invalid_plan', 'bad'))).toMatchObject({
      status: 400,
    });
    expect(
      answer(new CoordinatorError('unavailable', 'octopus_not_configured', 'no')),
    ).toMatchObject({ status: 503 });
    expect(answer(new LockError('queue_full', 'full'))).toMatchObject({
      status: 429,
      code: 'queue_full',
    });
    expect(answer(new HttpError(413, 'too_large', 'big'))).toMatchObject({ status: 413 });
    expect(answer(new Error('boom'))).toMatchObject({ status: 500, code: 'internal_error' });
  });
});
