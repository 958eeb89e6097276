// A lease bound to an Octopus task in another space than the coordinator's (OCTOPUS_SPACE) is checked
// where that task lives. Octopus's space-scoped task list (/api/{spaceId}/tasks?ids=) holds only its
// own space's tasks; the system-level GET /api/tasks/{id} answers for any space. The simulator has one
// space, so this suite serves those two routes (and the space lookup) with Octopus's scoping from a
// small stand-in server: the rule under test is exactly that scoping.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { octopusEndedTasks } from '../../shared/locks/runtimeLocks.js';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { locksForTest } from '../helpers/locks.js';

const tasks = new Map<string, { Id: string; SpaceId: string; State: string }>([
  ['ServerTasks-1', { Id: 'ServerTasks-1', SpaceId: 'Spaces-1', State: 'Executing' }],
  ['ServerTasks-2', { Id: 'ServerTasks-2', SpaceId: 'Spaces-2', State: 'Executing' }],
]);
let server: http.Server;
let url = '';
const requests: string[] = [];

function page(items: unknown[]) {
  return {
    ItemType: 'Task',
    TotalResults: items.length,
    ItemsPerPage: 30,
    NumberOfPages: 1,
    LastPageNumber: 0,
    Items: items,
    Links: {},
  };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${u.pathname}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/api')
      return send(200, { Application: 'Octopus Deploy', Version: '2026.3.1', Links: {} });
    if (u.pathname === '/api/spaces')
      return send(
        200,
        page([
          { Id: 'Spaces-1', Name: 'Default' },
          { Id: 'Spaces-2', Name: 'Ops' },
        ]),
      );
    const scoped = /^\/api\/(Spaces-\d+)\/tasks$/.exec(u.pathname);
    if (scoped) {
      const ids = (u.searchParams.get('ids') ?? '').split(',');
      return send(
        200,
        page([...tasks.values()].filter((t) => t.SpaceId === scoped[1] && ids.includes(t.Id))),
      );
    }
    const system = /^\/api\/tasks\/(ServerTasks-\d+)$/.exec(u.pathname);
    const task = system ? tasks.get(system[1] ?? '') : undefined;
    if (task) return send(200, task);
    return send(404, { ErrorMessage: 'The resource you requested was not found.' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('task-bound leases in another space', () => {
  it('are freed by the sweep once their task (in another space) has ended', async () => {
    const octopus = createOctopusClient({
      url,
      apiKey: 'API-OTHERSPACE0000000000000000000',
      space: 'Default',
    });
    const locks = locksForTest({ endedTasks: octopusEndedTasks(octopus) });
    const lock = `other-space-${Date.now()}`;
    expect(
      await locks.acquire(lock, {
        holder: 'ops',
        octopusTaskId: 'ServerTasks-2',
        ttlSeconds: 3600,
      }),
    ).toMatchObject({ granted: true });
    // Still running in space Ops: nothing to free.
    expect(await locks.releaseEndedTaskLeases()).toBe(0);

    tasks.set('ServerTasks-2', { Id: 'ServerTasks-2', SpaceId: 'Spaces-2', State: 'Canceled' });
    requests.length = 0;
    expect(await locks.releaseEndedTaskLeases()).toBe(1);
    expect((await locks.inspect(lock))?.holders).toEqual([]);
    expect(requests).toContain('GET /api/tasks/ServerTasks-2');
  });

  it('the task lookup finds an ended task in another space; an id Octopus does not know counts as not ended', async () => {
    const octopus = createOctopusClient({
      url,
      apiKey: 'API-OTHERSPACE0000000000000000000',
      space: 'Default',
    });
    const ended = await octopusEndedTasks(octopus)([
      'ServerTasks-1',
      'ServerTasks-2',
      'ServerTasks-9',
    ]);
    expect([...ended]).toEqual(['ServerTasks-2']);
  });
});
