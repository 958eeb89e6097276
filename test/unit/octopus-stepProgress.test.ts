import { describe, expect, it } from 'vitest';
import { stepProgress, type ActivityElement } from '../../shared/octopus/taskProgress.js';

function el(
  Name: string,
  Status: ActivityElement['Status'] | number,
  Children: ActivityElement[] = [],
): ActivityElement {
  return { Id: Name, Name, Status: Status as ActivityElement['Status'], Children };
}

describe('stepProgress', () => {
  it('reads steps from the root children and reports the running step', () => {
    const root = el('Deploy Web API release 2.16.0 to Production', 'Running', [
      el('Step 1: Migrate database', 'Success', [el('db-worker-01', 'Success')]),
      el('Step 2: Deploy web app', 'Running'),
      el('Step 3: Smoke test', 'Pending'),
    ]);
    expect(stepProgress({ ActivityLogs: [root] })).toEqual({
      steps: [
        { number: 1, name: 'Migrate database', status: 'Success' },
        { number: 2, name: 'Deploy web app', status: 'Running' },
        { number: 3, name: 'Smoke test', status: 'Pending' },
      ],
      currentStep: 2,
      completedSteps: 1,
    });
  });

  it('ignores an "Acquire packages" child before the steps', () => {
    const root = el('Deploy', 'Running', [
      el('Acquire packages', 'Success'),
      el('Step 1: One', 'Running'),
    ]);
    const progress = stepProgress({ ActivityLogs: [root] });
    expect(progress.steps.map((s) => s.number)).toEqual([1]);
    expect(progress.currentStep).toBe(1);
  });

  it('points at the next pending step between steps while the task runs', () => {
    const root = el('Deploy', 'Running', [el('Step 1: A', 'Success'), el('Step 2: B', 'Pending')]);
    expect(stepProgress({ ActivityLogs: [root] }).currentStep).toBe(2);
  });

  it('has no current step while queued or after the end, and counts skipped and failed as completed', () => {
    const queued = el('Deploy', 'Pending', [
      el('Step 1: A', 'Pending'),
      el('Step 2: B', 'Pending'),
    ]);
    expect(stepProgress({ ActivityLogs: [queued] })).toMatchObject({
      currentStep: undefined,
      completedSteps: 0,
    });
    const done = el('Deploy', 'Failed', [el('Step 1: A', 'Skipped'), el('Step 2: B', 'Failed')]);
    expect(stepProgress({ ActivityLogs: [done] })).toMatchObject({
      currentStep: undefined,
      completedSteps: 2,
    });
  });

  it('tolerates numeric statuses from old servers and an empty tree', () => {
    const root = el('Deploy', 1, [el('Step 1: A', 2), el('Step 2: B', 1)]);
    const progress = stepProgress({ ActivityLogs: [root] });
    expect(progress.steps.map((s) => s.status)).toEqual(['Success', 'Running']);
    expect(stepProgress({ ActivityLogs: [] })).toEqual({
      steps: [],
      currentStep: undefined,
      completedSteps: 0,
    });
  });
});
