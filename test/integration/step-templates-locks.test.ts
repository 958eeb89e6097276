// The lock step templates' pool, 401 and 429 paths, run as Tentacle would (test/helpers/stepTemplate.ts)
// against the dev host (the real app, `node dist/dev/start.js`, with a function key set, so a wrong or
// missing key gets Azure's empty 401): a pool hands out whichever lock is free and the release step
// frees the one it got; a refused key says which key goes where without printing it; an instance
// shedding acquires (16 in flight) answers 429 with Retry-After and the step waits and asks again.
// Bash always; PowerShell too where pwsh is (.ci/run installs it).
import { createServer } from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admission, lockAcquireAdmission } from '../../shared/http/admission.js';
import { jsonApi } from '../../shared/http/handler.js';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import {
  deploymentVariables,
  findPwsh,
  OctopusDeploymentRun,
  type StepResult,
} from '../helpers/stepTemplate.js';

const functionKey = 'step-templates-locks-key';
let dev: DevHostProcess;

beforeAll(async () => {
  dev = await startDevHostProcess({ args: ['--no-timers'], env: { FUNCTIONS_KEY: functionKey } });
}, 150_000);

afterAll(async () => {
  await dev?.stop();
});

const pwsh = findPwsh();
const shells = [
  {
    shell: 'Bash',
    acquire: 'coordinator-acquire-lock-bash.json',
    release: 'coordinator-release-lock-bash.json',
  },
  ...('path' in pwsh
    ? [
        {
          shell: 'PowerShell',
          acquire: 'coordinator-acquire-lock-powershell.json',
          release: 'coordinator-release-lock-powershell.json',
        },
      ]
    : []),
];
if (!('path' in pwsh)) console.warn(`PowerShell lock template paths not run: ${pwsh.reason}`);

let tasks = 0;
/** A deployment of its own task (so its own request ids), on the dev host with the right key. */
function deployment(key = functionKey, url = dev.url): OctopusDeploymentRun {
  tasks += 1;
  return new OctopusDeploymentRun(
    deploymentVariables({
      project: 'Shop',
      environment: 'Test',
      taskId: `ServerTasks-${700_000 + tasks}`,
    }),
    { 'Coordinator.Url': url, 'Coordinator.FunctionKey': key },
  );
}

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
/**
 * What the step said, as one line of words. PowerShell shows a thrown message in a framed block
 * (`Line |`, the source line, then the message wrapped behind `|`): the frame and the source go.
 */
function said(r: StepResult): string {
  return (r.stdout + r.stderr)
    .replace(ansi, '')
    .split('\n')
    .filter((line) => !/^\s*(Line \||\d+ \||\|\s*~+\s*$)/.test(line))
    .map((line) => line.replace(/^\s*\|\s?/, ''))
    .join(' ')
    .replace(/\s+/g, ' ');
}

async function api(
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${dev.url}/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', 'x-functions-key': functionKey },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe.each(shells)('the lock templates ($shell)', ({ shell, acquire, release }) => {
  it('take whichever lock of a pool is free, wait in the pool when none is, and the release step frees the one taken', async () => {
    const names = [`${shell}-pool-a`, `${shell}-pool-b`];
    // As a multi-line variable arrives: CRLF, blank lines, padding, and an unresolved #{…} line.
    const pool = { 'CoordinatorLock.Pool': `${names[0]}\r\n\r\n  ${names[1]}  \n#{Missing.Lock}` };
    const first = deployment();
    const a = await first.runStep(acquire, 'Take one', pool);
    expect(a.code).toBe(0);
    expect(said(a)).toContain('Taking any one free lock of the pool');
    const second = deployment();
    const b = await second.runStep(acquire, 'Take one', pool);
    expect(b.code).toBe(0);
    expect([a.outputs.CoordinatorLockName, b.outputs.CoordinatorLockName].sort()).toEqual(names);
    for (const r of [a, b]) {
      expect(r.outputs.CoordinatorLeaseId).toBeTruthy();
      expect(said(r)).toContain(`Lock "${r.outputs.CoordinatorLockName}" granted`);
    }

    // Both held: a third deployment waits in the pool's queue, and gives up after its wait.
    const third = deployment();
    const waited = await third.runStep(acquire, 'Take one', {
      ...pool,
      'CoordinatorLock.WaitSeconds': '2',
    });
    expect(waited.code).not.toBe(0);
    expect(said(waited)).toMatch(
      /Waiting for a lock of the pool .*: position 1 in the queue; held by Shop/,
    );
    expect(said(waited)).toContain('was not granted within 2 s');

    // The first deployment's release step frees the lock it got, by the acquire step's name.
    const freed = await first.runStep(release, 'Free it', {
      'CoordinatorLock.AcquireStep': 'Take one',
    });
    expect(freed.code).toBe(0);
    expect(said(freed)).toContain(`Lock "${a.outputs.CoordinatorLockName}" released`);
    const lock = await api(`locks/${encodeURIComponent(a.outputs.CoordinatorLockName ?? '')}`);
    expect(lock.json.holders).toEqual([]);

    // The third asks again (same task, same request): it gets the freed lock.
    const again = await third.runStep(acquire, 'Take one', pool);
    expect(again.code).toBe(0);
    expect(again.outputs.CoordinatorLockName).toBe(a.outputs.CoordinatorLockName);
    for (const run of [second, third])
      expect(
        (await run.runStep(release, 'Free it', { 'CoordinatorLock.AcquireStep': 'Take one' })).code,
      ).toBe(0);
  }, 120_000);

  it('say which key goes where on a 401 (an empty body, as Azure answers), without printing the key', async () => {
    const lock = { 'CoordinatorLock.Name': `${shell}-keyed` };
    const none = await deployment('').runStep(acquire, 'Lock', lock);
    expect(none.code).not.toBe(0);
    expect(said(none)).toContain('refused the function key (401)');
    expect(said(none)).toContain(
      'Put a function key of the coordinator in Coordinator.FunctionKey',
    );
    expect(said(none)).toContain('az functionapp keys list');
    expect(said(none)).not.toContain('The key set now was refused');
    expect(said(none)).not.toContain('It said:'); // Azure's 401 says nothing

    const wrong = await deployment('a-wrong-key').runStep(acquire, 'Lock', lock);
    expect(wrong.code).not.toBe(0);
    expect(said(wrong)).toContain('refused the function key (401)');
    expect(said(wrong)).toContain('The key set now was refused.');
    expect(said(wrong)).not.toContain('a-wrong-key');
    expect((await api(`locks/${shell}-keyed`)).status).toBe(404); // never taken

    // Release with a refused key: says the lock stays held; with the right key it is freed.
    const run = deployment();
    expect((await run.runStep(acquire, 'Lock', lock)).code).toBe(0);
    run.stepParameters['Coordinator.FunctionKey'] = 'a-wrong-key';
    const refused = await run.runStep(release, 'Free it', {
      'CoordinatorLock.AcquireStep': 'Lock',
    });
    expect(refused.code).not.toBe(0);
    expect(said(refused)).toContain('refused the function key (401)');
    expect(said(refused)).toContain(
      'The lock stays held until this task ends or its TTL runs out.',
    );
    expect(said(refused)).not.toContain('a-wrong-key');
    expect(((await api(`locks/${shell}-keyed`)).json.holders as unknown[]).length).toBe(1);
    run.stepParameters['Coordinator.FunctionKey'] = functionKey;
    expect(
      (await run.runStep(release, 'Free it', { 'CoordinatorLock.AcquireStep': 'Lock' })).code,
    ).toBe(0);
  }, 60_000);

  it('wait as long as a 429 asks and ask again with the same request; give up when the wait is over', async () => {
    // Fill this instance's acquires: one holder, then as many long-polls as it admits.
    const crowded = `${shell}-crowded`;
    expect(
      (await api(`locks/${crowded}/acquire`, { holder: 'owner', ttlSeconds: 120 })).status,
    ).toBe(200);
    const longPolls = Array.from({ length: lockAcquireAdmission.max }, (_, i) =>
      api(`locks/${crowded}/acquire`, {
        holder: `waiter ${i}`,
        requestId: `${shell}-w${i}`,
        wait: 25,
      }),
    );
    // Until every long-poll holds its place (so each is admitted and waiting: a probe sent before
    // that could take a slot a long-poll then finds full, and the crowd would never fill), then
    // until the instance sheds: a probe answered 429 is not admitted, so it takes no place.
    const placed = Date.now() + 30_000;
    for (;;) {
      const view = await api(`locks/${crowded}`);
      if ((view.json.waiters as unknown[] | undefined)?.length === lockAcquireAdmission.max) break;
      if (Date.now() > placed)
        throw new Error(`the long-polls never all queued: ${JSON.stringify(view.json)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let shed = false; !shed;) {
      const probe = await api(`locks/${shell}-probe/acquire`, { holder: 'probe', ttlSeconds: 1 });
      shed = probe.status === 429;
      if (!shed && Date.now() > placed) throw new Error('the instance never shed a probe');
      if (!shed) await new Promise((r) => setTimeout(r, 100));
    }
    const lock = { 'CoordinatorLock.Name': `${shell}-after-the-crowd` };

    const gaveUp = await deployment().runStep(acquire, 'Lock', {
      ...lock,
      'CoordinatorLock.WaitSeconds': '1',
    });
    expect(gaveUp.code).not.toBe(0);
    expect(said(gaveUp)).toContain('The coordinator is busy (429) and the wait timeout is over');

    const patient = await deployment().runStep(acquire, 'Lock', {
      ...lock,
      'CoordinatorLock.WaitSeconds': '120',
    });
    expect(patient.code).toBe(0);
    expect(said(patient)).toContain(
      `The coordinator is busy (429); asking again in ${lockAcquireAdmission.retryAfterSeconds}s, as it asked.`,
    );
    expect(said(patient)).toContain(`Lock "${shell}-after-the-crowd" granted`);
    expect((await Promise.all(longPolls)).map((r) => r.status)).toEqual(
      Array(lockAcquireAdmission.max).fill(202),
    );
  }, 120_000);

  it('take the Retry-After the answer gives, and keep the request id, against a stand-in that answers as the coordinator does', async () => {
    // The coordinator's own 429 (the admission's error through the API's error mapping), with another
    // Retry-After than the templates' fallback of 2 s, then its own grant.
    const shed = (await jsonApi(() =>
      new Admission('lock acquires', 0, 1).run(() => Promise.resolve({ status: 200 })),
    )(
      new HttpRequest({ method: 'POST', url: 'http://127.0.0.1/api/locks/x/acquire' }),
      new InvocationContext(),
    )) as HttpResponseInit;
    expect(shed.status).toBe(429);
    const requests: { key: string | undefined; requestId: string }[] = [];
    const standIn = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests.push({
          key: req.headers['x-functions-key'] as string | undefined,
          requestId: (JSON.parse(body) as { requestId: string }).requestId,
        });
        if (requests.length === 1) {
          res.writeHead(shed.status ?? 429, {
            'content-type': 'application/json',
            ...(shed.headers as Record<string, string>),
          });
          res.end(JSON.stringify(shed.jsonBody));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            granted: true,
            leaseId: '7.aaaaaaaaaaaaaaaaaaaaaaaa',
            fence: 7,
            expiresAt: '2026-12-02T12:00:00.000Z',
          }),
        );
      });
    });
    await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', () => r()));
    const address = standIn.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const result = await deployment(functionKey, url).runStep(acquire, 'Lock', {
        'CoordinatorLock.Name': 'stand-in',
        'CoordinatorLock.WaitSeconds': '30',
      });
      expect(result.code).toBe(0);
      expect(said(result)).toContain(
        'The coordinator is busy (429); asking again in 1s, as it asked.',
      );
      expect(result.outputs.CoordinatorLeaseId).toBe('7.aaaaaaaaaaaaaaaaaaaaaaaa');
      expect(requests).toHaveLength(2);
      expect(requests[1]?.requestId).toBe(requests[0]?.requestId);
      expect(requests.map((r) => r.key)).toEqual([functionKey, functionKey]);
    } finally {
      standIn.close();
    }
  }, 60_000);
});
