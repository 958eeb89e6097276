// Which step a deployment has reached, read from its task's activity tree.
import { activityStatusFromWire, type ActivityStatus } from './enums.js';

export interface ActivityLogElement {
  Category: string;
  OccurredAt?: string;
  MessageText?: string;
  Detail?: string | null;
}

export interface ActivityElement {
  Id: string;
  Name: string;
  Status: ActivityStatus;
  Started?: string | null;
  Ended?: string | null;
  Children: ActivityElement[];
  ShowAtSummaryLevel?: boolean;
  LogElements?: ActivityLogElement[];
  ProgressPercentage?: number;
  ProgressMessage?: string | null;
}

export interface StepState {
  number: number;
  name: string;
  status: ActivityStatus;
}

export interface StepProgress {
  steps: StepState[];
  /** The running step; between steps, the next pending one; undefined before the first and after the last. */
  currentStep: number | undefined;
  /** How many steps have finished (Success, SuccessWithWarning, Failed, Skipped, Canceled). */
  completedSteps: number;
}

const FINISHED: ReadonlySet<string> = new Set([
  'Success',
  'SuccessWithWarning',
  'Failed',
  'Skipped',
  'Canceled',
]);
const STEP_NAME = /^Step\s+(\d+)\s*:\s*(.*)$/;

export function normalizeActivity(element: ActivityElement): ActivityElement {
  return {
    ...element,
    Status: activityStatusFromWire(element.Status),
    Children: (element.Children ?? []).map(normalizeActivity),
  };
}

/** True when a step status will not change again. */
export function isStepFinished(status: ActivityStatus): boolean {
  return FINISHED.has(status);
}

/**
 * Reads the steps from `ActivityLogs[0]`'s children named "Step N: name" (other children, such as
 * "Acquire packages", are ignored). Pure: pass it what `tasks.details()` returned.
 */
export function stepProgress(details: { ActivityLogs: ActivityElement[] }): StepProgress {
  const root = details.ActivityLogs[0];
  const steps: StepState[] = [];
  for (const child of root?.Children ?? []) {
    const match = STEP_NAME.exec(child.Name);
    if (!match) continue;
    steps.push({
      number: Number(match[1]),
      name: (match[2] ?? '').trim(),
      status: activityStatusFromWire(child.Status),
    });
  }
  const completedSteps = steps.filter((s) => isStepFinished(s.status)).length;
  const running = steps.find((s) => s.status === 'Running');
  let currentStep = running?.number;
  if (currentStep === undefined && completedSteps > 0 && completedSteps < steps.length) {
    const rootStatus = root === undefined ? undefined : activityStatusFromWire(root.Status);
    if (rootStatus === 'Running') currentStep = steps.find((s) => s.status === 'Pending')?.number;
  }
  return { steps, currentStep, completedSteps };
}
