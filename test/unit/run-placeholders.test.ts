// Notify texts and webhook bodies say what this run did: placeholders, filled when the action runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CoordinationConfigError,
  parseCoordinationConfig,
  parseCoordinationConfigText,
} from '../../shared/config/loadCoordinationConfig.js';
import { notifyCommand, renderBody } from '../../shared/runs/actionCommands.js';
import { newRunState } from '../../shared/runs/newRun.js';
import { fillText } from '../../shared/runs/placeholders.js';
import { planFromPlaybook } from '../../shared/runs/plan.js';

const example = parseCoordinationConfigText(
  readFileSync('coordination.example.json', 'utf8'),
  'example',
);

function problemsOf(value: unknown): string[] {
  try {
    parseCoordinationConfig(value);
  } catch (err) {
    if (err instanceof CoordinationConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('run placeholders', () => {
  it("the example playbook's notify email names the environment the run is for", () => {
    const plan = planFromPlaybook(example, 'release-web-stack', { environment: 'Production' });
    const run = newRunState('r-1', plan, { kind: 'api' }, new Date('2026-11-20T10:00:00Z'));
    const announce = plan.stages.find((s) => s.name === 'Announce')?.actions[0];
    expect(announce?.type).toBe('notify');
    if (announce?.type !== 'notify') return;
    const command = notifyCommand(run, 'a', announce.to, announce.subject, announce.body);
    expect(command).toMatchObject({
      kind: 'sendMail',
      subject: 'Database and Web API are deployed to Production',
    });
    if (command.kind !== 'sendMail') return;
    expect(command.text).toContain('Releases: no release chosen yet.');
    expect(command.text).toContain('Run r-1: {runUrl}'); // filled by the executor, which knows PUBLIC_URL
    expect(command.text).not.toContain('Test');
  });

  it('fills webhook bodies at any depth and leaves other braces alone', () => {
    const plan = planFromPlaybook(example, 'release-web-stack', { environment: 'Production' });
    const run = newRunState('r-2', plan, { kind: 'api' }, new Date('2026-11-20T10:00:00Z'));
    expect(
      renderBody({ text: '{run.id} to {environment}', list: ['{status}', '{"json": 1}'] }, run),
    ).toEqual({ text: 'r-2 to Production', list: ['running', '{"json": 1}'] });
    expect(fillText('{{runId}} / {runId} / {unknown}', { runId: 'x' })).toBe('x / x / {unknown}');
  });

  it('refuses an unknown placeholder in a notify text, with its JSON path', () => {
    const problems = problemsOf({
      playbooks: {
        p: {
          stages: [
            {
              name: 's',
              actions: [{ type: 'notify', to: ['a@example.com'], subject: 'Live in {enviroment}' }],
            },
          ],
        },
      },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^\$\.playbooks\.p\.stages\[0\]\.actions\[0\]\.subject: \{enviroment\} is not a placeholder; use one of .*\{environment\}/,
      ),
    ]);
  });
});
