// Stop the line, the pure parts: which freezes cover a target, Octopus's repeating freezes, and how a
// run's deploy reacts to a freeze (waits and says why, gives back its claim, or fails; rollbacks pass).
import { describe, expect, it } from 'vitest';
import { coversEnvironment, type Freeze, type FreezeHit } from '../../shared/freezes/model.js';
import { occurrenceAt, octopusHits } from '../../shared/freezes/octopusFreezes.js';
import type { DeploymentFreeze } from '../../shared/octopus/deploymentFreezes.js';
import { decide, deployDecision, newRunState } from '../../shared/runs/decide.js';
import type {
  Command,
  DeployResolution,
  Observation,
  PlanDeploy,
  RunPlan,
  RunState,
} from '../../shared/runs/types.js';
import { planDeploy } from '../helpers/runPlans.js';

const t0 = new Date('2026-12-02T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const coordinatorHit: FreezeHit = {
  source: 'coordinator',
  id: 'frz-1',
  name: 'incident 4711',
  by: 'alice',
  allowsRollback: true,
};
const octopusHit: FreezeHit = {
  source: 'octopus',
  id: 'DeploymentFreezes-1',
  name: 'Xmas',
  until: '2026-12-27T00:00:00.000Z',
  allowsRollback: false,
};

const deploy = (extra: Partial<PlanDeploy> = {}): PlanDeploy => planDeploy('api', 'Web API', extra);

function resolution(hits: FreezeHit[] = []): DeployResolution {
  return {
    projectId: 'Projects-2',
    environmentId: 'Environments-3',
    tenantId: null,
    release: { releaseId: 'Releases-9', version: '2.18.0' },
    why: 'the newest release',
    current: {
      releaseId: 'Releases-8',
      version: '2.17.0',
      state: 'Success',
      deploymentId: 'Deployments-1',
      taskId: 'ServerTasks-1',
    },
    lastSuccessful: { releaseId: 'Releases-8', version: '2.17.0' },
    ...(hits.length > 0 ? { freeze: { hits, notes: [] } } : {}),
  };
}

describe('deployDecision with freezes', () => {
  it('is frozen, naming the freeze, who set it and why, when a freeze covers the target', () => {
    const d = deployDecision(deploy(), resolution([coordinatorHit]));
    expect(d.kind).toBe('frozen');
    expect(d.why).toContain('frz-1');
    expect(d.why).toContain('alice');
    expect(d.why).toContain('incident 4711');
  });

  it('lets a rollback through a freeze that allows rollbacks, but never through an Octopus freeze', () => {
    expect(deployDecision(deploy({ rollback: true }), resolution([coordinatorHit])).kind).toBe(
      'deploy',
    );
    expect(
      deployDecision(deploy({ rollback: true }), resolution([coordinatorHit, octopusHit])).kind,
    ).toBe('frozen');
    const strict = { ...coordinatorHit, allowsRollback: false };
    expect(deployDecision(deploy({ rollback: true }), resolution([strict])).kind).toBe('frozen');
  });

  it('does not stop a skip or a join: those start no deployment', () => {
    const current = resolution([coordinatorHit]);
    const same = { ...current, release: { releaseId: 'Releases-8', version: '2.17.0' } };
    expect(deployDecision(deploy(), same).kind).toBe('skip');
  });
});

describe('which freezes cover a place', () => {
  const freeze: Freeze = {
    id: 'frz-1',
    environments: ['Production'],
    environmentIds: ['Environments-3'],
    reason: 'incident',
    by: 'alice',
    createdAt: t0.toISOString(),
    allowRollbacks: true,
  };
  it('matches by id or by name (any case), and a freeze naming no environment covers all', () => {
    expect(coversEnvironment(freeze, { name: 'prod', id: 'Environments-3' })).toBe(true);
    expect(coversEnvironment(freeze, { name: 'production', id: 'x' })).toBe(true);
    expect(coversEnvironment(freeze, { name: 'Test', id: 'Environments-2' })).toBe(false);
    expect(
      coversEnvironment({ ...freeze, environments: null }, { name: 'Test', id: 'Environments-2' }),
    ).toBe(true);
  });

  const octo = (extra: Partial<DeploymentFreeze> = {}): DeploymentFreeze => ({
    Id: 'DeploymentFreezes-1',
    Name: 'Xmas',
    Start: '2026-12-24T00:00:00Z',
    End: '2026-12-27T00:00:00Z',
    ProjectEnvironmentScope: { 'Projects-2': ['Environments-3'] },
    TenantProjectEnvironmentScope: [
      { TenantId: 'Tenants-21', ProjectId: 'Projects-4', EnvironmentId: 'Environments-3' },
    ],
    RecurringSchedule: null,
    ...extra,
  });
  const target = {
    project: 'Web API',
    environment: 'Production',
    tenant: null,
    projectId: 'Projects-2',
    environmentId: 'Environments-3',
    tenantId: null,
  };

  it('reads an Octopus freeze by its project × environment scope and its window (end exclusive)', () => {
    expect(octopusHits([octo()], target, new Date('2026-12-25T12:00:00Z'))).toHaveLength(1);
    expect(octopusHits([octo()], target, new Date('2026-12-27T00:00:00Z'))).toHaveLength(0);
    expect(
      octopusHits(
        [octo()],
        { ...target, environmentId: 'Environments-2' },
        new Date('2026-12-25T12:00:00Z'),
      ),
    ).toHaveLength(0);
  });

  it('reads a tenant scope for that tenant only', () => {
    const tenanted = { ...target, projectId: 'Projects-4', tenant: 'Acme', tenantId: 'Tenants-21' };
    const when = new Date('2026-12-25T12:00:00Z');
    expect(octopusHits([octo()], tenanted, when)).toHaveLength(1);
    expect(octopusHits([octo()], { ...tenanted, tenantId: 'Tenants-22' }, when)).toHaveLength(0);
  });

  it('repeats a daily freeze at the same hours, and stops after its occurrences', () => {
    const daily = octo({
      Start: '2026-12-01T09:00:00Z',
      End: '2026-12-01T17:00:00Z',
      RecurringSchedule: {
        Type: 'Daily',
        Unit: 1,
        EndType: 'AfterOccurrences',
        EndAfterOccurrences: 3,
      },
    });
    expect(occurrenceAt(daily, new Date('2026-12-02T12:00:00Z'))?.end.toISOString()).toBe(
      '2026-12-02T17:00:00.000Z',
    );
    expect(occurrenceAt(daily, new Date('2026-12-02T18:00:00Z'))).toBeUndefined();
    expect(occurrenceAt(daily, new Date('2026-12-03T12:00:00Z'))).toBeDefined();
    expect(occurrenceAt(daily, new Date('2026-12-04T12:00:00Z'))).toBeUndefined();
  });

  it('repeats a weekly freeze on its days of the week only', () => {
    const weekly = octo({
      Start: '2026-11-30T09:00:00Z', // a Monday
      End: '2026-11-30T17:00:00Z',
      RecurringSchedule: {
        Type: 'Weekly',
        Unit: 1,
        EndType: 'Never',
        DaysOfWeek: ['Monday', 'Friday'],
      },
    });
    expect(occurrenceAt(weekly, new Date('2026-12-04T10:00:00Z'))).toBeDefined(); // Friday
    expect(occurrenceAt(weekly, new Date('2026-12-02T10:00:00Z'))).toBeUndefined(); // Wednesday
    expect(occurrenceAt(weekly, new Date('2026-12-07T16:59:00Z'))).toBeDefined(); // next Monday
  });
});

function plan(extra: Partial<RunPlan> = {}): RunPlan {
  return {
    kind: 'playbook',
    name: 'release-api',
    environment: 'Production',
    stages: [{ name: 'API', actions: [deploy()] }],
    onFailure: [],
    onFailureWhenCancelled: true,
    timeoutMinutes: 60,
    recipients: [],
    ...extra,
  };
}

/** Drives decide as the advancer does, up to the deploy's resolution. */
function started(p: RunPlan = plan()): {
  state: RunState;
  step: (o: Observation[], s: number) => Command[];
} {
  let state = newRunState('run-1', p, { kind: 'api' }, t0);
  const step = (observations: Observation[], seconds: number): Command[] => {
    const lease = { id: 'lease-1', owner: 'test', until: at(seconds + 90).toISOString() };
    const decision = decide({ ...state, lease }, observations, at(seconds));
    state = decision.state;
    return decision.commands;
  };
  step([], 0);
  step([{ kind: 'previousCaptured', cells: [] }], 1);
  return {
    get state() {
      return state;
    },
    step,
  };
}

const action = (s: RunState) => {
  const a = s.stages[0]?.actions[0];
  if (!a) throw new Error('no action');
  return a;
};

describe('a run meets a freeze', () => {
  it('waits before the deployment, says why, and reads again later; deploys once the freeze is gone', () => {
    const run = started();
    const claim = run.step(
      [{ kind: 'deployResolved', actionId: 'api', resolution: resolution() }],
      2,
    );
    expect(claim.map((c) => c.kind)).toEqual(['claimDeploy']);
    // Under the claim the target is read again: a freeze set meanwhile stops it here.
    const after = run.step(
      [
        {
          kind: 'deployClaimed',
          actionId: 'api',
          lock: 'deploy/x',
          leaseId: 'l1',
          resolution: resolution([coordinatorHit]),
        },
      ],
      3,
    );
    expect(after.map((c) => c.kind)).toEqual(['releaseClaim']);
    expect(action(run.state).status).toBe('resolving');
    expect(action(run.state).note).toContain('incident 4711');
    expect(action(run.state).frozen?.why).toContain('frz-1');
    expect(run.state.status).toBe('running');
    run.step([{ kind: 'claimReleased', actionId: 'api', lock: 'deploy/x', wake: [] }], 4);
    expect(run.step([], 10)).toEqual([]); // not before the re-check time
    const again = run.step([], 40);
    expect(again.map((c) => c.kind)).toEqual(['resolveDeploy']);
    run.step([{ kind: 'deployResolved', actionId: 'api', resolution: resolution() }], 41);
    const create = run.step(
      [
        {
          kind: 'deployClaimed',
          actionId: 'api',
          lock: 'deploy/x',
          leaseId: 'l2',
          resolution: resolution(),
        },
      ],
      42,
    );
    expect(create.map((c) => c.kind)).toEqual(['createDeployment']);
    expect(action(run.state).frozen).toBeUndefined();
  });

  it('goes back to waiting, intent cleared, when the last check before the create finds a freeze', () => {
    const run = started();
    run.step([{ kind: 'deployResolved', actionId: 'api', resolution: resolution() }], 2);
    const create = run.step(
      [
        {
          kind: 'deployClaimed',
          actionId: 'api',
          lock: 'deploy/x',
          leaseId: 'l1',
          resolution: resolution(),
        },
      ],
      3,
    );
    expect(create.map((c) => c.kind)).toEqual(['createDeployment']);
    expect(action(run.state).intent?.kind).toBe('createDeployment');
    const back = run.step(
      [
        {
          kind: 'deployFrozen',
          actionId: 'api',
          why: 'Production is frozen',
          hits: [coordinatorHit],
        },
      ],
      4,
    );
    expect(action(run.state).status).toBe('resolving');
    expect(action(run.state).intent).toBeUndefined();
    expect(back.map((c) => c.kind)).toEqual(['releaseClaim']);
  });

  it('fails the action instead, with onFreeze "fail"', () => {
    const run = started(plan({ onFreeze: 'fail' }));
    run.step(
      [{ kind: 'deployResolved', actionId: 'api', resolution: resolution([coordinatorHit]) }],
      2,
    );
    expect(action(run.state).status).toBe('failed');
    expect(action(run.state).error).toContain('frozen');
  });

  it('creates a rollback with priority', () => {
    const run = started(
      plan({ stages: [{ name: 'back', actions: [deploy({ rollback: true })] }] }),
    );
    run.step(
      [{ kind: 'deployResolved', actionId: 'api', resolution: resolution([coordinatorHit]) }],
      2,
    );
    const create = run.step(
      [
        {
          kind: 'deployClaimed',
          actionId: 'api',
          lock: 'deploy/x',
          leaseId: 'l1',
          resolution: resolution([coordinatorHit]),
        },
      ],
      3,
    );
    expect(create).toEqual([expect.objectContaining({ kind: 'createDeployment', priority: true })]);
  });
});
