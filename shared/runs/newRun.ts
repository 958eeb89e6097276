// The state of a run that has just been created: every stage and action pending, nothing captured yet.
import { cellsToCapture } from './plan.js';
import { addMs, iso } from './stepContext.js';
import type { RunPlan, RunState, RunTrigger } from './types.js';

export function newRunState(id: string, plan: RunPlan, trigger: RunTrigger, now: Date): RunState {
  return {
    schema: 1,
    id,
    plan,
    trigger,
    status: 'running',
    createdAt: iso(now),
    updatedAt: iso(now),
    deadline: addMs(now, plan.timeoutMinutes * 60_000),
    stageIndex: 0,
    stages: plan.stages.map((stage) => ({
      name: stage.name,
      status: 'pending',
      actions: stage.actions.map((spec) => ({
        id: spec.id,
        spec,
        status: 'pending',
        attempt: 0,
        failures: 0,
      })),
    })),
    previous: {
      captured: false,
      failures: 0,
      cells: cellsToCapture(plan).map((c) => ({ ...c })),
    },
    onFailure: {
      status: 'notRun',
      stepIndex: 0,
      steps: plan.onFailure.map((entry) => ({ entry, status: 'pending', actions: [] })),
    },
    pendingCancels: [],
    finishedMail: { status: 'none' },
    history: [
      {
        at: iso(now),
        message: `Run of ${plan.kind} "${plan.name}" created${trigger.by ? ` by ${trigger.by}` : ''}.`,
      },
    ],
  };
}
