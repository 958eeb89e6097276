import { describe, expect, it } from 'vitest';
import { OctopusContext } from '../../shared/octopus/context.js';
import { createOnce } from '../../shared/octopus/createOnce.js';
import { OctopusError } from '../../shared/octopus/errors.js';
import { OctopusHttp } from '../../shared/octopus/http.js';

function context(sleeps: number[]): OctopusContext {
  const http = new OctopusHttp({
    url: 'http://octopus.invalid',
    apiKey: 'API-TESTTESTTESTTESTTEST1',
    timeoutMs: 500,
    maxRetries: 2,
    retryBaseMs: 10,
    retryMaxMs: 100,
    maxRetryAfterMs: 60_000,
    createSettleMs: 500,
    log: () => undefined,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  return new OctopusContext(http, async () => 'Spaces-1', 'Default');
}

const timeout = () =>
  new OctopusError({
    code: 'Timeout',
    method: 'POST',
    path: '/api/Spaces-1/deployments',
    retryable: true,
    message: 'no answer',
  });
const refused = () =>
  new OctopusError({
    code: 'HttpError',
    status: 400,
    method: 'POST',
    path: '/api/Spaces-1/deployments',
    message: 'bad',
  });

describe('createOnce', () => {
  it('returns what a timed-out attempt created, after letting the server settle, without repeating it', async () => {
    const sleeps: number[] = [];
    let attempts = 0;
    const result = await createOnce(context(sleeps), {
      what: 'deployment',
      attempt: async () => {
        attempts += 1;
        throw timeout();
      },
      find: async () => ({ Id: 'Deployments-9' }),
    });
    expect(result).toEqual({ Id: 'Deployments-9' });
    expect(attempts).toBe(1);
    expect(sleeps).toEqual([500]);
  });

  it('repeats only when the check finds nothing, and stops at maxRetries', async () => {
    let attempts = 0;
    let checks = 0;
    const error = await createOnce(context([]), {
      what: 'deployment',
      attempt: async () => {
        attempts += 1;
        throw timeout();
      },
      find: async () => {
        checks += 1;
        return undefined;
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OctopusError);
    expect(attempts).toBe(3);
    expect(checks).toBe(3);
  });

  it('never repeats without a way to check, nor after a refusal', async () => {
    let attempts = 0;
    const unchecked = (await createOnce(context([]), {
      what: 'deployment',
      attempt: async () => {
        attempts += 1;
        throw timeout();
      },
    }).catch((e: unknown) => e)) as OctopusError;
    expect(unchecked.code).toBe('CreateUnconfirmed');
    const invalid = (await createOnce(context([]), {
      what: 'deployment',
      attempt: async () => {
        attempts += 1;
        throw refused();
      },
      find: async () => undefined,
    }).catch((e: unknown) => e)) as OctopusError;
    expect(invalid.status).toBe(400);
    expect(attempts).toBe(2);
  });

  it('does not repeat when the check itself fails', async () => {
    let attempts = 0;
    const error = (await createOnce(context([]), {
      what: 'deployment',
      attempt: async () => {
        attempts += 1;
        throw timeout();
      },
      find: async () => {
        throw new Error('list failed');
      },
    }).catch((e: unknown) => e)) as OctopusError;
    expect(error.code).toBe('CreateUnconfirmed');
    expect(attempts).toBe(1);
  });
});
