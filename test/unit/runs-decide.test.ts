import { describe, expect, it } from 'vitest';
import { decide, deployDecision, newRunState, runMarker } from '../../shared/runs/decide.js';
import { runHasWork } from '../../shared/runs/types.js';
import type {
  Command,
  DeployResolution,
  Observation,
  RunPlan,
  RunState,
} from '../../shared/runs/types.js';
import { planDeploy, webStackRunPlan } from '../helpers/runPlans.js';

const t0 = new Date('2026-11-21T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const deploy = planDeploy;
const plan = (extra: Partial<RunPlan> = {}): RunPlan =>
  webStackRunPlan({
    name: 'release-web-stack',
    timeoutMinutes: 60,
    recipients: ['ops@example.com'],
    ...extra,
  });

function resolution(
  project: string,
  version: string,
  current?: { version: string; state: string },
  lastSuccessful?: string,
): DeployResolution {
  return {
    projectId: `Projects-${project}`,
    environmentId: 'Environments-3',
    tenantId: null,
    release: { releaseId: `Releases-${project}-${version}`, version },
    why: 'the newest release',
    current: current
      ? {
          releaseId: `Releases-${project}-${current.version}`,
          version: current.version,
          state: current.state,
          deploymentId: `Deployments-${project}`,
          taskId: `ServerTasks-${project}-old`,
        }
      : undefined,
    lastSuccessful: lastSuccessful
      ? { releaseId: `Releases-${project}-${lastSuccessful}`, version: lastSuccessful }
      : undefined,
  };
}

/** Drive decide like the advancer does: a lease on the state, observations in, commands out. */
class Driver {
  state: RunState;
  lease = 'lease-1';
  constructor(p: RunPlan = plan()) {
    this.state = newRunState('run-1', p, { kind: 'api' }, t0);
  }
  step(observations: Observation[] = [], seconds = 1): Command[] {
    const withLease = {
      ...this.state,
      lease: { id: this.lease, owner: 'test', until: at(seconds + 90).toISOString() },
    };
    const { state, commands } = decide(withLease, observations, at(seconds));
    this.state = state;
    // Deploy claims are answered at once, as the executor does when nobody else deploys there
    // (granted, target unchanged); the claims' own behaviour is tested on its own below.
    const claims = commands.filter((c) => c.kind === 'claimDeploy' || c.kind === 'releaseClaim');
    const rest = commands.filter((c) => c.kind !== 'claimDeploy' && c.kind !== 'releaseClaim');
    if (claims.length === 0 || !this.answerClaims) return commands;
    const answers: Observation[] = claims.map((c) =>
      c.kind === 'claimDeploy'
        ? {
            kind: 'deployClaimed',
            actionId: c.actionId,
            lock: `deploy/${c.actionId}`,
            leaseId: `1.${c.actionId}`,
            resolution: c.resolution,
          }
        : { kind: 'claimReleased', actionId: c.actionId, lock: c.lock, wake: [] },
    );
    return [...rest, ...this.step(answers, seconds)];
  }
  answerClaims = true;
  action(id: string) {
    const all = [
      ...this.state.stages.flatMap((s) => s.actions),
      ...this.state.onFailure.steps.flatMap((s) => s.actions),
    ];
    const found = all.find((a) => a.id === id);
    if (!found) throw new Error(`no action ${id}`);
    return found;
  }
  capture(): Command[] {
    return this.step([
      {
        kind: 'previousCaptured',
        cells: [
          {
            project: 'Database',
            environment: 'Production',
            tenant: null,
            lastSuccessful: { releaseId: 'Releases-Database-1.5.0', version: '1.5.0' },
          },
          {
            project: 'Web API',
            environment: 'Production',
            tenant: null,
            lastSuccessful: { releaseId: 'Releases-Web API-2.16.0', version: '2.16.0' },
          },
          {
            project: 'Web App',
            environment: 'Production',
            tenant: null,
            lastSuccessful: { releaseId: 'Releases-Web App-3.1.0', version: '3.1.0' },
          },
        ],
      },
    ]);
  }
  /** Resolve and start db and api, returning the create commands. */
  startBackend(): Command[] {
    this.step();
    this.capture();
    return this.step([
      {
        kind: 'deployResolved',
        actionId: 'db',
        resolution: resolution(
          'Database',
          '1.6.0',
          { version: '1.5.0', state: 'Success' },
          '1.5.0',
        ),
      },
      {
        kind: 'deployResolved',
        actionId: 'api',
        resolution: resolution(
          'Web API',
          '2.18.0',
          { version: '2.17.0', state: 'Failed' },
          '2.16.0',
        ),
      },
    ]);
  }
}

const kinds = (commands: Command[]) => commands.map((c) => c.kind);

describe('decide: a run from start to finish', () => {
  it('captures the releases before the run first, then resolves the first stage in parallel', () => {
    const d = new Driver();
    expect(kinds(d.step())).toEqual(['capturePrevious']);
    const commands = d.capture();
    expect(commands).toEqual([
      expect.objectContaining({ kind: 'resolveDeploy', actionId: 'db' }),
      expect.objectContaining({ kind: 'resolveDeploy', actionId: 'api' }),
    ]);
    expect(d.state.stages[1]?.status).toBe('pending');
  });

  it('creates each deployment with the run/action/attempt marker after recording its intent', () => {
    const d = new Driver();
    const creates = d.startBackend();
    expect(creates).toEqual([
      expect.objectContaining({
        kind: 'createDeployment',
        actionId: 'db',
        marker: 'coordinator run=run-1 action=db attempt=1',
        recover: false,
      }),
      expect.objectContaining({
        kind: 'createDeployment',
        actionId: 'api',
        marker: runMarker('run-1', 'api', 1),
        recover: false,
      }),
    ]);
    expect(d.action('db')).toMatchObject({
      status: 'starting',
      intent: { kind: 'createDeployment', attempt: 1, leaseId: 'lease-1' },
    });
  });

  it('moves to the next stage when every deployment succeeded, and finishes with the email', () => {
    const d = new Driver();
    d.startBackend();
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
      {
        kind: 'deploymentStarted',
        actionId: 'api',
        deploymentId: 'Deployments-2',
        taskId: 'ServerTasks-2',
        recovered: false,
      },
    ]);
    expect(d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Success' }])).toEqual([]);
    expect(d.state.stageIndex).toBe(0);
    const next = d.step([{ kind: 'task', taskId: 'ServerTasks-2', state: 'Success' }]);
    expect(next).toEqual([expect.objectContaining({ kind: 'resolveDeploy', actionId: 'web' })]);
    d.step([
      {
        kind: 'deployResolved',
        actionId: 'web',
        resolution: resolution('Web App', '3.2.0', { version: '3.1.0', state: 'Success' }, '3.1.0'),
      },
    ]);
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'web',
        deploymentId: 'Deployments-3',
        taskId: 'ServerTasks-3',
        recovered: false,
      },
    ]);
    const done = d.step([{ kind: 'task', taskId: 'ServerTasks-3', state: 'Success' }]);
    expect(d.state.status).toBe('succeeded');
    expect(done).toEqual([{ kind: 'sendFinishedMail', to: ['ops@example.com'] }]);
    d.step([{ kind: 'finishedMailSent' }]);
    expect(d.state.finishedMail.status).toBe('sent');
    expect(d.step()).toEqual([]);
  });

  it('is deterministic: the same state and observations give the same decision', () => {
    const d = new Driver();
    d.startBackend();
    const lease = { id: 'lease-2', owner: 'x', until: at(500).toISOString() };
    const input = { ...d.state, lease };
    const obs: Observation[] = [
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
    ];
    expect(decide(input, obs, at(10))).toEqual(decide(input, obs, at(10)));
  });
});

describe('decide: deploy decisions', () => {
  it('refuses a downgrade unless the action allows it or is a rollback', () => {
    const r = resolution('Web API', '2.16.0', { version: '2.18.0', state: 'Success' }, '2.18.0');
    expect(deployDecision(deploy('api', 'Web API'), r)).toMatchObject({ kind: 'refuse' });
    expect(deployDecision(deploy('api', 'Web API', { allowDowngrade: true }), r)).toMatchObject({
      kind: 'deploy',
    });
    expect(deployDecision(deploy('api', 'Web API', { rollback: true }), r)).toMatchObject({
      kind: 'deploy',
    });
  });

  it('joins a queued or running deployment of the same release instead of creating another', () => {
    const r = resolution('Web API', '2.18.0', { version: '2.18.0', state: 'Executing' }, '2.16.0');
    expect(deployDecision(deploy('api', 'Web API', { when: 'always' }), r)).toMatchObject({
      kind: 'join',
      taskId: 'ServerTasks-Web API-old',
    });
  });

  it('skips what is already current (ifNotCurrent) and what is not newer (ifNewer)', () => {
    const current = resolution(
      'Web API',
      '2.18.0',
      { version: '2.18.0', state: 'Success' },
      '2.18.0',
    );
    expect(deployDecision(deploy('api', 'Web API'), current)).toMatchObject({ kind: 'skip' });
    expect(deployDecision(deploy('api', 'Web API', { when: 'always' }), current)).toMatchObject({
      kind: 'deploy',
    });
    const older = resolution(
      'Web API',
      '2.17.0',
      { version: '2.18.0', state: 'Success' },
      '2.18.0',
    );
    expect(deployDecision(deploy('api', 'Web API', { when: 'ifNewer' }), older)).toMatchObject({
      kind: 'skip',
    });
  });

  it('fails the stage when a deploy would downgrade', () => {
    const d = new Driver();
    d.step();
    d.capture();
    d.step([
      {
        kind: 'deployResolved',
        actionId: 'db',
        resolution: resolution(
          'Database',
          '1.4.0',
          { version: '1.5.0', state: 'Success' },
          '1.5.0',
        ),
      },
      {
        kind: 'deployResolved',
        actionId: 'api',
        resolution: resolution(
          'Web API',
          '2.18.0',
          { version: '2.18.0', state: 'Success' },
          '2.18.0',
        ),
      },
    ]);
    expect(d.action('db').status).toBe('failed');
    expect(d.action('db').error).toMatch(/back from 1\.5\.0/);
    expect(d.state.failure?.actionId).toBe('db');
  });
});

describe('decide: failure and rollback', () => {
  it('waits for running siblings, then redeploys exactly the captured releases as a rollback', () => {
    const d = new Driver();
    d.startBackend();
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
      {
        kind: 'deploymentStarted',
        actionId: 'api',
        deploymentId: 'Deployments-2',
        taskId: 'ServerTasks-2',
        recovered: false,
      },
    ]);
    const afterFailure = d.step([
      {
        kind: 'task',
        taskId: 'ServerTasks-2',
        state: 'Failed',
        errorMessage: 'The deployment failed at Step 2: Smoke test',
      },
    ]);
    expect(d.state.status).toBe('failing');
    expect(afterFailure).toEqual([]); // db still runs: no cancel, no rollback yet
    const rollback = d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Success' }]);
    expect(d.state.status).toBe('rollingBack');
    expect(d.state.stages[1]?.status).toBe('skipped');
    expect(
      rollback.map((c) =>
        c.kind === 'resolveDeploy' ? [c.spec.project, c.spec.release, c.spec.rollback] : c.kind,
      ),
    ).toEqual([
      [
        'Database',
        expect.objectContaining({ releaseId: 'Releases-Database-1.5.0', version: '1.5.0' }),
        true,
      ],
      [
        'Web API',
        expect.objectContaining({ releaseId: 'Releases-Web API-2.16.0', version: '2.16.0' }),
        true,
      ],
    ]);
    const dbBack = d.state.onFailure.steps[0]?.actions[0];
    const apiBack = d.state.onFailure.steps[0]?.actions[1];
    if (!dbBack || !apiBack) throw new Error('rollback actions missing');
    const creates = d.step([
      {
        kind: 'deployResolved',
        actionId: dbBack.id,
        resolution: resolution(
          'Database',
          '1.5.0',
          { version: '1.6.0', state: 'Success' },
          '1.6.0',
        ),
      },
      {
        kind: 'deployResolved',
        actionId: apiBack.id,
        resolution: resolution(
          'Web API',
          '2.16.0',
          { version: '2.18.0', state: 'Failed' },
          '2.16.0',
        ),
      },
    ]);
    // Web API's last successful release is already 2.16.0 but its current deployment failed: it is redeployed.
    expect(kinds(creates)).toEqual(['createDeployment', 'createDeployment']);
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: dbBack.id,
        deploymentId: 'Deployments-4',
        taskId: 'ServerTasks-4',
        recovered: false,
      },
      {
        kind: 'deploymentStarted',
        actionId: apiBack.id,
        deploymentId: 'Deployments-5',
        taskId: 'ServerTasks-5',
        recovered: false,
      },
    ]);
    const end = d.step([
      { kind: 'task', taskId: 'ServerTasks-4', state: 'Success' },
      { kind: 'task', taskId: 'ServerTasks-5', state: 'Success' },
    ]);
    expect(d.state.status).toBe('failed');
    expect(d.state.onFailure.status).toBe('succeeded');
    expect(kinds(end)).toEqual(['sendFinishedMail']);
  });

  it('skips putting back a cell that had nothing deployed before the run', () => {
    const d = new Driver(
      plan({
        stages: [{ name: 'Only', actions: [deploy('db', 'Database')] }],
        onFailure: [{ type: 'redeployPrevious', id: 'rb', projects: ['Database'] }],
      }),
    );
    d.step();
    d.step([
      {
        kind: 'previousCaptured',
        cells: [{ project: 'Database', environment: 'Production', tenant: null }],
      },
    ]);
    d.step([
      { kind: 'deployResolved', actionId: 'db', resolution: resolution('Database', '1.6.0') },
    ]);
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
    ]);
    const commands = d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Failed' }]);
    expect(commands.filter((c) => c.kind === 'resolveDeploy')).toEqual([]);
    expect(d.state.onFailure.steps[0]?.actions[0]?.status).toBe('skipped');
    expect(d.state.status).toBe('failed');
  });
});

describe('decide: crash safety', () => {
  it('does not repeat an in-flight create under the same lease', () => {
    const d = new Driver();
    d.startBackend();
    expect(d.step([], 5)).toEqual([]);
  });

  it('under a new lease, recovers an unrecorded create by its marker instead of creating blindly', () => {
    const d = new Driver();
    d.startBackend();
    d.lease = 'lease-2';
    const commands = d.step([], 120);
    expect(commands).toEqual([
      expect.objectContaining({
        kind: 'createDeployment',
        actionId: 'db',
        marker: 'coordinator run=run-1 action=db attempt=1',
        recover: true,
      }),
      expect.objectContaining({ kind: 'createDeployment', actionId: 'api', recover: true }),
    ]);
    d.step(
      [
        {
          kind: 'deploymentStarted',
          actionId: 'db',
          deploymentId: 'Deployments-1',
          taskId: 'ServerTasks-1',
          recovered: true,
        },
      ],
      121,
    );
    expect(d.action('db')).toMatchObject({
      status: 'running',
      taskId: 'ServerTasks-1',
      attempt: 1,
    });
  });

  it('looks for the deployment before retrying a create that failed ambiguously', () => {
    const d = new Driver();
    const [create] = d.startBackend();
    if (!create) throw new Error('no create');
    d.step([{ kind: 'commandFailed', command: create, message: 'timeout', retryable: true }], 2);
    expect(d.step([], 3)).toEqual([]);
    const retry = d.step([], 120);
    expect(retry).toEqual([
      expect.objectContaining({
        kind: 'createDeployment',
        actionId: 'db',
        recover: true,
        attempt: 1,
      }),
    ]);
  });

  it('never sends the finished email twice: an unrecorded send is given up as unknown', () => {
    const d = new Driver(
      plan({
        stages: [{ name: 'Only', actions: [{ type: 'wait', id: 'w', minutes: 1 }] }],
        onFailure: [],
      }),
    );
    d.step();
    d.step([{ kind: 'previousCaptured', cells: [] }]);
    expect(kinds(d.step([], 61))).toEqual(['sendFinishedMail']);
    d.lease = 'lease-2';
    expect(d.step([], 200)).toEqual([]);
    expect(d.state.finishedMail.status).toBe('unknown');
  });
});

describe('decide: cancel and timeouts', () => {
  it('cancels the tasks the run started (not joined ones), then runs onFailure and ends cancelled', () => {
    const d = new Driver();
    d.step();
    d.capture();
    d.step([
      {
        kind: 'deployResolved',
        actionId: 'db',
        resolution: resolution(
          'Database',
          '1.6.0',
          { version: '1.5.0', state: 'Success' },
          '1.5.0',
        ),
      },
      {
        kind: 'deployResolved',
        actionId: 'api',
        resolution: resolution(
          'Web API',
          '2.18.0',
          { version: '2.18.0', state: 'Queued' },
          '2.16.0',
        ),
      },
    ]);
    expect(d.action('api')).toMatchObject({ status: 'running', joined: true });
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
    ]);
    d.state = { ...d.state, cancelRequest: { requestedAt: at(3).toISOString(), by: 'sam' } };
    const commands = d.step([], 4);
    expect(commands).toEqual([{ kind: 'cancelTask', taskId: 'ServerTasks-1' }]);
    expect(d.state.status).toBe('cancelling');
    expect(d.action('api').status).toBe('cancelled');
    d.step(
      [
        { kind: 'taskCancelRequested', taskId: 'ServerTasks-1' },
        { kind: 'task', taskId: 'ServerTasks-1', state: 'Cancelling' },
      ],
      5,
    );
    const after = d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Canceled' }], 6);
    expect(d.action('db').status).toBe('cancelled');
    expect(d.state.status).toBe('rollingBack');
    expect(kinds(after)).toEqual(['resolveDeploy', 'resolveDeploy']);
  });

  it('times out an action, cancels its task and fails the stage', () => {
    const d = new Driver(
      plan({
        stages: [{ name: 'Only', actions: [deploy('db', 'Database', { timeoutMinutes: 1 })] }],
        onFailure: [],
      }),
    );
    d.step();
    d.step([{ kind: 'previousCaptured', cells: [] }]);
    d.step([
      { kind: 'deployResolved', actionId: 'db', resolution: resolution('Database', '1.6.0') },
    ]);
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
    ]);
    const commands = d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Executing' }], 90);
    expect(d.action('db').status).toBe('timedOut');
    expect(commands).toEqual(
      expect.arrayContaining([{ kind: 'cancelTask', taskId: 'ServerTasks-1' }]),
    );
    expect(d.state.status).toBe('failed');
  });

  it('stops the run at its own timeout', () => {
    const d = new Driver(
      plan({
        timeoutMinutes: 1,
        stages: [{ name: 'Only', actions: [{ type: 'wait', id: 'w', minutes: 10 }] }],
        onFailure: [],
      }),
    );
    d.step();
    d.step([{ kind: 'previousCaptured', cells: [] }]);
    d.step([], 61);
    expect(d.state.status).toBe('failed');
    expect(d.state.failure?.message).toMatch(/within 1 minutes/);
  });
});

describe("decide: Octopus's lifecycle", () => {
  const notYet = { allowed: false, allowedEnvironments: ['Development'] };

  it('refuses a deploy the lifecycle does not allow yet, saying where the release may go', () => {
    const r = {
      ...resolution('Database', '1.7.0', { version: '1.6.0', state: 'Success' }, '1.6.0'),
      lifecycle: notYet,
    };
    const spec = deploy('db', 'Database', { environment: 'Test' });
    expect(deployDecision(spec, r)).toEqual({
      kind: 'refuse',
      why: expect.stringMatching(
        /^Octopus's lifecycle does not allow release 1\.7\.0 of Database into Test yet \(allowed: Development\); /,
      ),
    });
    expect(
      deployDecision(spec, { ...r, lifecycle: { allowed: true, allowedEnvironments: ['Test'] } }),
    ).toMatchObject({ kind: 'deploy' });
  });

  it('lets a rollback go wherever the lifecycle allows it, and refuses it only where Octopus would', () => {
    const rollback = deploy('back', 'Database', { rollback: true, allowDowngrade: true });
    const r = resolution('Database', '1.5.0', { version: '1.6.0', state: 'Success' }, '1.6.0');
    const everywhere = {
      allowed: true,
      allowedEnvironments: ['Development', 'Test', 'Production'],
    };
    expect(deployDecision(rollback, { ...r, lifecycle: everywhere })).toMatchObject({
      kind: 'deploy',
    });
    expect(deployDecision(rollback, { ...r, lifecycle: notYet })).toMatchObject({
      kind: 'refuse',
    });
  });

  it('fails a refused deploy without creating it, then runs onFailure like any failed action', () => {
    const d = new Driver();
    d.step();
    d.capture();
    const commands = d.step([
      {
        kind: 'deployResolved',
        actionId: 'db',
        resolution: {
          ...resolution('Database', '1.7.0', { version: '1.5.0', state: 'Success' }, '1.5.0'),
          lifecycle: { allowed: false, allowedEnvironments: ['Development'] },
        },
      },
    ]);
    expect(d.action('db')).toMatchObject({ status: 'failed', attempt: 0 });
    expect(d.action('db').intent).toBeUndefined();
    expect(d.action('db').error).toMatch(
      /^refused: Octopus's lifecycle does not allow release 1\.7\.0 of Database into Production yet \(allowed: Development\)/,
    );
    expect(d.action('api').status).toBe('cancelled');
    expect(d.state.failure?.actionId).toBe('db');
    expect(commands.filter((c) => c.kind === 'createDeployment')).toEqual([]);
    // onFailure puts back what was there: one rollback resolve per captured cell of its projects.
    expect(d.state.status).toBe('rollingBack');
    expect(
      commands.map((c) =>
        c.kind === 'resolveDeploy' ? [c.spec.project, c.spec.rollback] : c.kind,
      ),
    ).toEqual([
      ['Database', true],
      ['Web API', true],
    ]);
  });
});

describe('decide: deploy claims (never two deployments of the coordinator active in one place)', () => {
  const resolvedDb = (current?: { version: string; state: string }): Observation => ({
    kind: 'deployResolved',
    actionId: 'db',
    resolution: resolution('Database', '1.6.0', current, '1.5.0'),
  });
  const waiting = (current?: { version: string; state: string }): Observation => ({
    kind: 'deployClaimWaiting',
    actionId: 'db',
    lock: 'deploy/db',
    position: 1,
    waitingFor: ['run-A'],
    resolution: resolution('Database', '1.6.0', current, '1.5.0'),
  });

  it('claims the target before creating a deployment there', () => {
    const d = new Driver();
    d.answerClaims = false;
    d.step();
    d.capture();
    const commands = d.step([resolvedDb({ version: '1.5.0', state: 'Success' })]);
    expect(kinds(commands)).toEqual(['claimDeploy']);
    expect(d.action('db')).toMatchObject({ status: 'resolving', attempt: 0 });
  });

  it('waits, saying for whom, while another run deploys a different release there; then deploys once claimed', () => {
    const d = new Driver();
    d.answerClaims = false;
    d.step();
    d.capture();
    d.step([resolvedDb({ version: '1.5.0', state: 'Success' })]);
    const commands = d.step([waiting({ version: '1.5.1', state: 'Executing' })]);
    expect(kinds(commands)).not.toContain('createDeployment');
    expect(d.action('db')).toMatchObject({ status: 'resolving', claim: { position: 1 } });
    expect(d.action('db').note).toMatch(/waiting for the deployment run run-A started there/);
    // Asks again later (a release of the claim wakes it at once).
    expect(kinds(d.step([], 2))).toEqual([]);
    expect(kinds(d.step([], 7))).toContain('resolveDeploy');
    const after = d.step(
      [
        {
          kind: 'deployClaimed',
          actionId: 'db',
          lock: 'deploy/db',
          leaseId: '3.abc',
          resolution: resolution(
            'Database',
            '1.6.0',
            { version: '1.5.1', state: 'Success' },
            '1.5.1',
          ),
        },
      ],
      8,
    );
    expect(kinds(after)).toContain('createDeployment');
    expect(d.action('db').claim).toMatchObject({ lock: 'deploy/db', leaseId: '3.abc' });
  });

  it('joins the deployment of the same release another run started, and leaves the queue', () => {
    const d = new Driver();
    d.answerClaims = false;
    d.step();
    d.capture();
    d.step([resolvedDb({ version: '1.5.0', state: 'Success' })]);
    const commands = d.step([
      {
        kind: 'deployClaimWaiting',
        actionId: 'db',
        lock: 'deploy/db',
        position: 1,
        waitingFor: ['run-A'],
        resolution: {
          ...resolution('Database', '1.6.0', { version: '1.6.0', state: 'Executing' }, '1.5.0'),
        },
      },
    ]);
    expect(d.action('db')).toMatchObject({ status: 'running', joined: true });
    expect(commands).toContainEqual({ kind: 'releaseClaim', actionId: 'db', lock: 'deploy/db' });
    expect(kinds(commands)).not.toContain('createDeployment');
  });

  it('gives the claim back when its deployment ends, and keeps the run active until it has', () => {
    const d = new Driver();
    d.startBackend();
    d.answerClaims = false;
    d.step([
      {
        kind: 'deploymentStarted',
        actionId: 'db',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        recovered: false,
      },
    ]);
    expect(d.action('db').claim?.leaseId).toBe('1.db');
    const commands = d.step([{ kind: 'task', taskId: 'ServerTasks-1', state: 'Success' }]);
    expect(commands).toContainEqual({
      kind: 'releaseClaim',
      actionId: 'db',
      lock: 'deploy/db',
      leaseId: '1.db',
    });
    expect(runHasWork(d.state)).toBe(true);
  });
});
