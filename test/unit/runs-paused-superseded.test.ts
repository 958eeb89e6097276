// Paused and superseded deployments in the run engine (decide): a deployment waiting for someone in
// Octopus is not timed out; one Octopus superseded with a newer deployment is followed (same release)
// or stops the run without onFailure (another release), never failing it into a rollback.
import { describe, expect, it } from 'vitest';
import { decide, newRunState } from '../../shared/runs/decide.js';
import type {
  Command,
  DeployResolution,
  Observation,
  RunPlan,
  RunState,
} from '../../shared/runs/types.js';
import { runView } from '../../shared/runs/view.js';
import { planDeploy, webStackRunPlan } from '../helpers/runPlans.js';

const t0 = new Date('2026-12-02T09:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const deploy = planDeploy;
const plan = (extra: Partial<RunPlan> = {}): RunPlan =>
  webStackRunPlan({ name: 'release', timeoutMinutes: 10, recipients: [], ...extra });

function resolution(project: string, version: string): DeployResolution {
  return {
    projectId: `Projects-${project}`,
    environmentId: 'Environments-3',
    tenantId: null,
    release: { releaseId: `Releases-${project}-${version}`, version },
    why: 'the newest release',
    lastSuccessful: { releaseId: `Releases-${project}-0.9.0`, version: '0.9.0' },
  };
}

class Driver {
  state: RunState;
  constructor(p: RunPlan) {
    this.state = newRunState('run-1', p, { kind: 'api' }, t0);
  }
  step(observations: Observation[] = [], seconds = 1): Command[] {
    const withLease = {
      ...this.state,
      lease: { id: 'lease-1', owner: 'test', until: at(seconds + 90).toISOString() },
    };
    const { state, commands } = decide(withLease, observations, at(seconds));
    this.state = state;
    const claims = commands.filter((c) => c.kind === 'claimDeploy');
    const rest = commands.filter((c) => c.kind !== 'claimDeploy' && c.kind !== 'releaseClaim');
    if (claims.length === 0) return rest;
    return [
      ...rest,
      ...this.step(
        claims.map((c) =>
          c.kind === 'claimDeploy'
            ? {
                kind: 'deployClaimed' as const,
                actionId: c.actionId,
                lock: `deploy/${c.actionId}`,
                leaseId: `1.${c.actionId}`,
                resolution: c.resolution,
              }
            : ({ kind: 'finishedMailSent' } as const),
        ),
        seconds,
      ),
    ];
  }
  action(id: string) {
    const found = [
      ...this.state.stages.flatMap((s) => s.actions),
      ...this.state.onFailure.steps.flatMap((s) => s.actions),
    ].find((a) => a.id === id);
    if (!found) throw new Error(`no action ${id}`);
    return found;
  }
  /** Capture, resolve and start db (and api, when in the plan) at second 2. */
  start(): void {
    this.step();
    this.step([{ kind: 'previousCaptured', cells: [] }]);
    const actions = this.state.stages[0]?.actions.map((a) => a.id) ?? [];
    this.step(
      actions.map((id) => ({
        kind: 'deployResolved' as const,
        actionId: id,
        resolution: resolution(id === 'db' ? 'Database' : 'Web API', '1.0.0'),
      })),
    );
    this.step(
      actions.map((id) => ({
        kind: 'deploymentStarted' as const,
        actionId: id,
        deploymentId: `Deployments-${id}`,
        taskId: `ServerTasks-${id}`,
        recovered: false,
      })),
      2,
    );
  }
}

const task = (id: string, state: string, extra: Partial<Observation> = {}): Observation =>
  ({ kind: 'task', taskId: `ServerTasks-${id}`, state, ...extra }) as Observation;

describe('paused deployments (manual intervention, guided failure)', () => {
  it('says it waits for someone in Octopus, with the link, and does not time out while paused', () => {
    const d = new Driver(
      plan({
        timeoutMinutes: 5,
        stages: [{ name: 'Only', actions: [deploy('db', 'Database', { timeoutMinutes: 2 })] }],
        onFailure: [],
      }),
    );
    d.start();
    const deadline = Date.parse(d.action('db').deadline ?? '');
    const link = 'https://octopus.example/app#/Spaces-1/tasks/ServerTasks-db';
    const paused = task('db', 'Queued', {
      hasPendingInterruptions: true,
      pendingInterruptionTypes: ['ManualIntervention'],
      link,
    } as Partial<Observation>);
    d.step([paused], 10);
    expect(d.action('db').note).toBe(
      `waiting for someone in Octopus (manual intervention): ${link}`,
    );
    // An hour later, well past both the action's 2 and the run's 5 minutes: still waiting, not stuck.
    const commands = d.step([paused], 3600);
    expect(d.action('db').status).toBe('running');
    expect(d.state.status).toBe('running');
    expect(commands.filter((c) => c.kind === 'cancelTask')).toEqual([]);
    const view = runView(d.state);
    expect(view.summary).toMatch(/db is waiting for someone in Octopus/);
    expect(view.stages[0]?.actions[0]?.waitingInOctopusSince).toBe(at(10).toISOString());
    // Answered: the clocks go on from where they stopped (the pause does not count).
    d.step([task('db', 'Executing', { link } as Partial<Observation>)], 3610);
    expect(d.action('db').note).toBeUndefined();
    expect(Date.parse(d.action('db').deadline ?? '')).toBe(deadline + 3600_000);
    expect(Date.parse(d.state.deadline)).toBe(at(300 + 3600).getTime());
    d.step([task('db', 'Executing')], 3700);
    expect(d.action('db').status).toBe('running');
    d.step([task('db', 'Executing')], 3725);
    expect(d.action('db').status).toBe('timedOut');
  });

  it('keeps waiting on a guided failure (Executing with a pending interruption)', () => {
    const d = new Driver(
      plan({ stages: [{ name: 'Only', actions: [deploy('db', 'Database')] }], onFailure: [] }),
    );
    d.start();
    const gf = task('db', 'Executing', {
      hasPendingInterruptions: true,
      pendingInterruptionTypes: ['GuidedFailure'],
    } as Partial<Observation>);
    d.step([gf], 30);
    d.step([gf], 7200);
    expect(d.action('db').status).toBe('running');
    expect(d.action('db').note).toMatch(/waiting for someone in Octopus \(guided failure\)/);
    d.step([task('db', 'Success')], 7300);
    expect(d.state.status).toBe('succeeded');
  });
});

describe('superseded deployments (Octopus 2025.2+)', () => {
  it('stops the run without onFailure when a newer deployment of another release superseded one', () => {
    const d = new Driver(plan());
    d.start();
    const commands = d.step(
      [
        task('db', 'Canceled', {
          superseded: {
            deploymentId: 'Deployments-99',
            taskId: 'ServerTasks-99',
            releaseId: 'Releases-Database-2.0.0',
            version: '2.0.0',
          },
        } as Partial<Observation>),
      ],
      20,
    );
    expect(d.action('db').status).toBe('cancelled');
    expect(d.action('db').note).toMatch(/superseded .*Deployments-99 \(release 2\.0\.0\)/);
    // api still runs: it is left to finish, not cancelled.
    expect(commands.filter((c) => c.kind === 'cancelTask')).toEqual([]);
    expect(d.action('api').status).toBe('running');
    expect(d.state.status).toBe('cancelling');
    const after = d.step([task('api', 'Success')], 30);
    expect(d.state.status).toBe('cancelled');
    expect(d.state.onFailure.status).toBe('skipped');
    expect(
      after.filter((c) => c.kind === 'resolveDeploy' || c.kind === 'createDeployment'),
    ).toEqual([]);
    expect(d.action('web').status).toBe('skipped');
    expect(d.state.failure).toBeUndefined();
    expect(runView(d.state).summary).toMatch(/stopped: db: Octopus superseded/);
    expect(runView(d.state).superseded?.by.deploymentId).toBe('Deployments-99');
  });

  it('follows the newer deployment when it deploys the same release', () => {
    const d = new Driver(plan());
    d.start();
    d.step(
      [
        task('db', 'Canceled', {
          superseded: {
            deploymentId: 'Deployments-100',
            taskId: 'ServerTasks-100',
            releaseId: 'Releases-Database-1.0.0',
            version: '1.0.0',
            byRun: 'run-2',
          },
        } as Partial<Observation>),
      ],
      20,
    );
    expect(d.action('db')).toMatchObject({
      status: 'running',
      taskId: 'ServerTasks-100',
      deploymentId: 'Deployments-100',
      supersededTaskId: 'ServerTasks-db',
      joined: true,
    });
    d.step(
      [{ kind: 'task', taskId: 'ServerTasks-100', state: 'Success' }, task('api', 'Success')],
      30,
    );
    expect(d.action('db').status).toBe('succeeded');
    expect(d.state.stageIndex).toBe(1);
  });

  it('still treats a cancel someone made in Octopus as a failure', () => {
    const d = new Driver(plan());
    d.start();
    d.step([task('db', 'Canceled')], 20);
    expect(d.action('db').status).toBe('failed');
    expect(d.state.status).toBe('failing');
  });
});
