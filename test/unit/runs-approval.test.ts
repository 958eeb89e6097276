// The approval action in the pure decision step: emails sent once, decisions counted once per person,
// the plan confirmed before the approved stage, the run's own timeout paused while people decide.
import { describe, expect, it } from 'vitest';
import { approvalFingerprint, maxApprovalRounds } from '../../shared/runs/approval.js';
import { decide, newRunState } from '../../shared/runs/decide.js';
import type {
  ApprovalItem,
  Command,
  Observation,
  RunPlan,
  RunState,
} from '../../shared/runs/types.js';
import { planDeploy } from '../helpers/runPlans.js';

const t0 = new Date('2026-11-21T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const deploy = planDeploy('db', 'Database');

const plan = (minApprovals = 1): RunPlan => ({
  kind: 'playbook',
  name: 'p',
  environment: 'Production',
  stages: [
    {
      name: 'Approval',
      actions: [
        {
          type: 'approval',
          id: 'go',
          approvers: ['ana@example.com', 'ben@example.com'],
          minApprovals,
          timeoutMinutes: 600,
        },
      ],
    },
    { name: 'Backend', actions: [deploy] },
  ],
  onFailure: [],
  onFailureWhenCancelled: true,
  timeoutMinutes: 60,
  recipients: [],
});

const item = (version: string): ApprovalItem => ({
  stage: 'Backend',
  actionId: 'db',
  project: 'Database',
  environment: 'Production',
  tenant: null,
  releaseId: `Releases-${version}`,
  version,
  why: 'the newest release of Database',
});
const resolved = (version: string): Observation => ({
  kind: 'approvalPlanResolved',
  actionId: 'go',
  items: [item(version)],
  fingerprint: approvalFingerprint([item(version)]),
});

class Driver {
  state: RunState;
  lease = 'lease-1';
  constructor(p: RunPlan) {
    this.state = newRunState('run-1', p, { kind: 'api' }, t0);
    this.step([{ kind: 'previousCaptured', cells: [] }], 0);
  }
  step(observations: Observation[] = [], seconds = 1): Command[] {
    const { state, commands } = decide(
      { ...this.state, lease: { id: this.lease, owner: 'test' } },
      observations,
      at(seconds),
    );
    this.state = state;
    return commands;
  }
  get approval() {
    const a = this.state.stages[0]?.actions[0];
    if (!a) throw new Error('no approval');
    return a;
  }
  decideAs(by: string, decision: 'approve' | 'reject', round = 1): void {
    this.approval.approval?.decisions.push({
      round,
      by,
      decision,
      at: at(5).toISOString(),
      via: 'api',
    });
  }
}

const kinds = (cs: Command[]) => cs.map((c) => c.kind);

describe('approval action', () => {
  it('reads the plan first, then emails each approver once; a crash mid-send is never re-sent', () => {
    const d = new Driver(plan());
    expect(d.approval.status).toBe('resolving');
    const mails = d.step([resolved('1.6.1')], 2);
    expect(kinds(mails)).toEqual(['sendApprovalMail', 'sendApprovalMail']);
    expect(d.approval.status).toBe('waiting');
    // One email confirmed, then the instance died; the next advancer holds another lease.
    d.step([{ kind: 'approvalMailSent', actionId: 'go', round: 1, to: 'ana@example.com' }], 3);
    d.lease = 'lease-2';
    expect(kinds(d.step([], 4))).toEqual([]);
    expect(d.approval.approval?.rounds[0]?.mails.map((m) => m.status)).toEqual(['sent', 'unknown']);
  });

  it('pauses the run timeout while people decide, and gives the run its remaining time afterwards', () => {
    const d = new Driver(plan());
    d.step([resolved('1.6.1')], 60);
    // The approval began with the first stage (second 0): 600 minutes to decide, then the run's 60.
    expect(Date.parse(d.state.deadline)).toBe(at(600 * 60 + 60 * 60).getTime());
    d.decideAs('ana@example.com', 'approve');
    expect(kinds(d.step([], 7200))).toEqual(['resolveApprovalPlan']);
    d.step([resolved('1.6.1')], 7201);
    expect(d.approval.status).toBe('succeeded');
    expect(Date.parse(d.state.deadline)).toBe(at(7201 + 60 * 60).getTime());
    expect(d.state.status).toBe('running');
  });

  it('counts a person once, confirms the plan, and pins the approved release into the deploy', () => {
    const d = new Driver(plan(2));
    d.step([resolved('1.6.1')], 2);
    d.decideAs('ana@example.com', 'approve');
    d.decideAs('ANA@example.com ', 'approve');
    expect(kinds(d.step([], 3))).toEqual([]);
    d.decideAs('ben@example.com', 'approve');
    expect(kinds(d.step([], 4))).toEqual(['resolveApprovalPlan']);
    const next = d.step([resolved('1.6.1')], 5);
    expect(d.approval.status).toBe('succeeded');
    const db = d.state.stages[1]?.actions[0];
    expect(db?.spec).toMatchObject({
      release: { releaseId: 'Releases-1.6.1', version: '1.6.1' },
    });
    expect(next.find((c) => c.kind === 'resolveDeploy')).toMatchObject({
      spec: { release: { releaseId: 'Releases-1.6.1' } },
    });
  });

  it('asks again when the plan changed, and gives up after too many changes', () => {
    const d = new Driver(plan());
    d.step([resolved('1.0.0')], 2);
    for (let round = 1; round <= maxApprovalRounds; round++) {
      d.decideAs('ana@example.com', 'approve', round);
      d.step([], 3 + round * 2);
      d.step([resolved(`1.0.${round}`)], 4 + round * 2);
    }
    expect(d.approval.status).toBe('failed');
    expect(d.approval.error).toContain(`the plan changed ${maxApprovalRounds} times`);
    expect(d.approval.approval?.rounds).toHaveLength(maxApprovalRounds);
    expect(d.state.status).not.toBe('running');
  });

  it('a rejection fails the approval with who and why', () => {
    const d = new Driver(plan(2));
    d.step([resolved('1.6.1')], 2);
    d.decideAs('ana@example.com', 'approve');
    d.approval.approval?.decisions.push({
      round: 1,
      by: 'ben@example.com',
      decision: 'reject',
      at: at(6).toISOString(),
      via: 'link',
      comment: 'not today',
    });
    d.step([], 7);
    expect(d.approval.status).toBe('failed');
    expect(d.state.failure?.message).toContain('rejected by ben@example.com ("not today")');
  });
});
