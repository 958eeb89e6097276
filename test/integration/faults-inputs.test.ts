// Issue 19 item 7: bad input answers 400 naming what is wrong, never 500 or a wrong "ok".
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConditionHandler } from '../../functions/conditions.js';
import { openApiDocument } from '../../functions/openapi.js';
import { cancelRunHandler, getRunHandler } from '../../functions/runs.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { jsonApi } from '../../shared/http/handler.js';
import { createRuntime, setRuntime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

function call(
  handler: Handler,
  url: string,
  body?: string,
  params: Record<string, string> = {},
): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: body === undefined ? 'GET' : 'POST',
    url: `http://127.0.0.1${url}`,
    headers: { 'content-type': 'application/json' },
    params,
    ...(body === undefined ? {} : { body: { string: body } }),
  });
  return Promise.resolve(jsonApi(handler)(request, new InvocationContext()));
}

beforeAll(async () => {
  setRuntime(
    await createRuntime({
      env: { AzureWebJobsStorage: azuriteConnectionString() },
      config: coordinationConfigSchema.parse({}),
      tablePrefix: uniqueTablePrefix(),
    }),
  );
});
afterAll(() => setRuntime(undefined));

describe('bad input is a 400, not a 500 or a wrong answer', () => {
  it('minVersion with a version that does not parse', async () => {
    const res = await call(
      checkConditionHandler,
      '/api/conditions/check',
      JSON.stringify({
        condition: { type: 'minVersion', project: 'Api', atLeast: 'not a version!' },
        environment: 'Test',
      }),
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.jsonBody)).toMatch(/atLeast/);
  });

  it('conditions nested 700 levels deep', async () => {
    let condition = '{"type":"minVersion","project":"Api","atLeast":"1.0"}';
    for (let i = 0; i < 700; i++) condition = `{"type":"allOf","conditions":[${condition}]}`;
    const res = await call(
      checkConditionHandler,
      '/api/conditions/check',
      `{"condition":${condition},"environment":"Test"}`,
    );
    expect(res.status).toBe(400);
    expect(res.jsonBody).toMatchObject({ error: { code: 'too_deep' } });
  });

  it('run ids containing / (sent as %2F)', async () => {
    for (const id of ['a/b', 'run-1/../x', 'x#y']) {
      const get = await call(getRunHandler, `/api/runs/${encodeURIComponent(id)}`, undefined, {
        id,
      });
      expect(get.status).toBe(400);
      expect(JSON.stringify(get.jsonBody)).toMatch(/id: a run id/);
      const cancel = await call(
        cancelRunHandler,
        `/api/runs/${encodeURIComponent(id)}/cancel`,
        '{}',
        { id },
      );
      expect(cancel.status).toBe(400);
    }
    // A well-formed id that does not exist is still a 404.
    const missing = await call(getRunHandler, '/api/runs/run-20260101T000000Z-abc', undefined, {
      id: 'run-20260101T000000Z-abc',
    });
    expect(missing.status).toBe(404);
  });

  it('OpenAPI documents renew ttlSeconds and the 512-character lock-name limit', () => {
    const doc = openApiDocument() as {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: { properties?: object } }> };
            parameters?: { name: string; schema: { maxLength?: number } }[];
          }
        >
      >;
    };
    const renew = doc.paths['/api/locks/{name}/renew']?.post;
    expect(renew?.requestBody?.content['application/json']?.schema.properties).toHaveProperty(
      'ttlSeconds',
    );
    const name = renew?.parameters?.find((p) => p.name === 'name');
    expect(name?.schema.maxLength).toBe(512);
  });
});
