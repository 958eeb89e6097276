// A wrong or missing function key, as a step template meets it: Azure answers 401 with an EMPTY body,
// so the text that says which key and where it goes must come from the script itself. The dev host
// (the real app, loaded as `npm start` does, with a function key set) answers exactly as unkindly.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionHost } from '../../dev/functionHost.js';
import { deploymentVariables, readStepTemplate, runStepTemplate } from '../helpers/stepTemplate.js';

let host: FunctionHost;

beforeAll(async () => {
  host = new FunctionHost({
    appRoot: resolve('.'),
    port: 0,
    // Schedules must resolve to load the app; no timer fires (only the HTTP answers matter here).
    env: { DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *', STATUS_POLL_SCHEDULE: '0 0 0 1 1 *' },
    timers: false,
    functionKey: 'the-right-key',
    log: () => {},
  });
  await host.load();
  await host.start();
}, 60_000);
afterAll(() => host.stop());

describe('a refused function key', () => {
  it.each([
    ['POST', '/api/ensure-deployed', undefined],
    ['POST', '/api/ensure-deployed', 'a-wrong-key'],
    ['GET', '/api/progress?project=Web&environment=Test&step=1', 'a-wrong-key'],
    ['GET', '/api/runs/run-1', undefined],
  ])(
    'the dev host answers %s %s (key %s) with 401 and an empty body, as Azure does',
    async (method, path, key) => {
      const res = await fetch(`${host.url}${path}`, {
        method,
        headers: key ? { 'x-functions-key': key } : {},
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect(res.status).toBe(401);
      expect(await res.text()).toBe('');
    },
  );

  const vars = (key: string, extra: Record<string, string> = {}) => ({
    ...deploymentVariables({ project: 'Web App', environment: 'Test' }),
    'Coordinator.Url': host.url,
    'Coordinator.FunctionKey': key,
    'Coordinator.Project': 'Database',
    ...extra,
  });

  it.each([
    ['coordinator-ensure-deployed-bash.json', {}],
    [
      'coordinator-wait-for-step-bash.json',
      { 'Coordinator.Step': '1', 'Coordinator.TimeoutMinutes': '1' },
    ],
  ])('%s says which key goes where when none is set', async (file, extra) => {
    const result = await runStepTemplate(file, vars('', extra));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('The coordinator answered 401: no valid function key.');
    expect(result.stderr).toContain('in Coordinator.FunctionKey');
    expect(result.stderr).toContain('Function App > App keys');
    expect(result.stderr).toContain('az functionapp keys list');
    expect(result.stderr).toContain('Coordinator.FunctionKey is empty.');
  });

  it.each([
    ['coordinator-ensure-deployed-bash.json', {}],
    [
      'coordinator-wait-for-step-bash.json',
      { 'Coordinator.Step': '1', 'Coordinator.TimeoutMinutes': '1' },
    ],
  ])('%s says the key set was refused, without printing it', async (file, extra) => {
    const result = await runStepTemplate(file, vars('a-wrong-key', extra));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('The coordinator answered 401: no valid function key.');
    expect(result.stderr).toContain('The key in Coordinator.FunctionKey now was refused');
    expect(result.stdout + result.stderr).not.toContain('a-wrong-key');
  });

  it.each([
    'coordinator-ensure-deployed-powershell.json',
    'coordinator-wait-for-step-powershell.json',
  ])('%s gives the same text on a 401 (checked as text: no pwsh here to run it)', (file) => {
    const body = readStepTemplate(file).Properties['Octopus.Action.Script.ScriptBody'] ?? '';
    const bash =
      readStepTemplate(file.replace('-powershell', '-bash')).Properties[
        'Octopus.Action.Script.ScriptBody'
      ] ?? '';
    const sentence = /Put a function key[^"]*header\./.exec(bash)?.[0];
    expect(sentence).toBeTruthy();
    expect(body).toContain(sentence ?? '-');
    expect(body).toMatch(/-eq 401\) \{\s*Fail-Step \(Get-KeyHelp 401\)/);
  });
});
