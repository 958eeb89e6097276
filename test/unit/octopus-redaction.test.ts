import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { OctopusError } from '../../shared/octopus/errors.js';
import { redactSecrets } from '../../shared/redact.js';

const KEY = 'API-ABCDEFGHIJKLMNOPQRSTUVWXYZ12';

describe('redaction', () => {
  it('removes known secrets and anything shaped like an API key', () => {
    expect(redactSecrets(`key ${KEY} and API-ZZZZZZZZZZZZZZZZZZZZ9`, [KEY])).not.toMatch(
      /API-[A-Z0-9]{16,}/,
    );
    expect(redactSecrets('custom-secret-value here', ['custom-secret-value'])).toBe(
      '[redacted] here',
    );
  });

  it('keeps the key out of errors even if a server echoes it', () => {
    const error = new OctopusError({
      code: 'HttpError',
      status: 401,
      method: 'GET',
      path: '/api/spaces',
      errorMessage: `Invalid API key ${KEY}`,
      message: `Octopus answered 401: Invalid API key ${KEY}`,
    });
    for (const text of [
      error.message,
      JSON.stringify(error),
      inspect(error),
      String(error.stack),
    ]) {
      expect(text).not.toContain(KEY);
    }
  });

  it('keeps the key out of the client when inspected or serialized', () => {
    const client = createOctopusClient({
      url: 'http://localhost:1',
      apiKey: KEY,
      space: 'Default',
    });
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain(KEY);
    expect(JSON.stringify(client)).not.toContain(KEY);
    expect(inspect(client.deployments, { depth: 10, showHidden: true })).not.toContain(KEY);
  });
});
