// A deploy claim asked for by an instance that died before recording the answer: the run notes the
// claim before asking, so whoever carries on gives back what may have been granted (by the action's
// request id) when the deploy does not go ahead, instead of leaving it to lapse after 900 s.
import { describe, expect, it } from 'vitest';
import { decide, newRunState } from '../../shared/runs/decide.js';
import type { Command, DeployResolution, Observation, RunState } from '../../shared/runs/types.js';
import { webStackRunPlan } from '../helpers/runPlans.js';

const t0 = new Date('2026-11-21T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const databaseLock = 'deploy/Projects-Database/Environments-3/-';

function resolution(frozen: boolean): DeployResolution {
  return {
    projectId: 'Projects-Database',
    environmentId: 'Environments-3',
    tenantId: null,
    release: { releaseId: 'Releases-Database-1.6.0', version: '1.6.0' },
    why: 'the newest release',
    current: {
      releaseId: 'Releases-Database-1.5.0',
      version: '1.5.0',
      state: 'Success',
      deploymentId: 'Deployments-1',
      taskId: 'ServerTasks-1',
    },
    lastSuccessful: { releaseId: 'Releases-Database-1.5.0', version: '1.5.0' },
    ...(frozen
      ? {
          freeze: {
            hits: [
              { source: 'coordinator' as const, id: 'F-1', name: 'INC-9', allowsRollback: true },
            ],
            notes: [],
          },
        }
      : {}),
  };
}

function step(
  state: RunState,
  lease: string,
  observations: Observation[],
  seconds: number,
): { state: RunState; commands: Command[] } {
  return decide(
    { ...state, lease: { id: lease, owner: lease, until: at(seconds + 90).toISOString() } },
    observations,
    at(seconds),
  );
}

const db = (state: RunState) => {
  const a = state.stages[0]?.actions.find((x) => x.id === 'db');
  if (!a) throw new Error('no db action');
  return a;
};

/** Lease 1 asks for the Database claim; returns the state as the dying instance left it. */
function askedForClaim(onFreeze: 'wait' | 'fail'): RunState {
  let s = newRunState(
    'run-1',
    {
      ...webStackRunPlan({ name: 'release', timeoutMinutes: 60, recipients: [] }),
      onFailure: [],
      onFreeze,
    },
    { kind: 'api' },
    t0,
  );
  s = step(s, 'lease-1', [], 1).state;
  s = step(s, 'lease-1', [{ kind: 'previousCaptured', cells: [] }], 1).state;
  const asked = step(
    s,
    'lease-1',
    [{ kind: 'deployResolved', actionId: 'db', resolution: resolution(false) }],
    2,
  );
  expect(asked.commands.map((c) => c.kind)).toContain('claimDeploy');
  return asked.state;
}

describe('a deploy claim whose answer was lost with its instance', () => {
  it('is noted before it is asked for', () => {
    expect(db(askedForClaim('wait')).claim).toEqual({ lock: databaseLock });
  });

  it('is given back when the next advancer finds the target frozen (the run waits)', () => {
    let s = askedForClaim('wait');
    // Lease 2 (another instance): the lost read is asked again, and it says frozen.
    const again = step(s, 'lease-2', [], 20);
    expect(again.commands).toContainEqual(expect.objectContaining({ kind: 'resolveDeploy' }));
    s = again.state;
    const frozen = step(
      s,
      'lease-2',
      [{ kind: 'deployResolved', actionId: 'db', resolution: resolution(true) }],
      21,
    );
    expect(db(frozen.state).frozen).toBeDefined();
    expect(frozen.commands).toContainEqual({
      kind: 'releaseClaim',
      actionId: 'db',
      lock: databaseLock,
    });
  });

  it('is given back when the run fails on the freeze (onFreeze: fail)', () => {
    const s = step(askedForClaim('fail'), 'lease-2', [], 20).state;
    const failed = step(
      s,
      'lease-2',
      [{ kind: 'deployResolved', actionId: 'db', resolution: resolution(true) }],
      21,
    );
    expect(db(failed.state).status).toBe('failed');
    expect(failed.commands).toContainEqual({
      kind: 'releaseClaim',
      actionId: 'db',
      lock: databaseLock,
    });
  });
});
