// Octopus sends enums as strings; older servers sent some as numbers. Both are accepted here.

export const TASK_STATES = [
  'Queued',
  'Executing',
  'Failed',
  'Canceled',
  'TimedOut',
  'Success',
  'Cancelling',
] as const;
/** Known task states; the type stays open so a new server value does not break parsing. */
export type TaskState = (typeof TASK_STATES)[number] | (string & {});

/** .NET `TaskState` numbers (Octopus.Client): 1-6 and 8; 7 is unused. */
const TASK_STATE_NUMBERS: Record<number, TaskState> = {
  1: 'Queued',
  2: 'Executing',
  3: 'Failed',
  4: 'Canceled',
  5: 'TimedOut',
  6: 'Success',
  8: 'Cancelling',
};

export const ACTIVITY_STATUSES = [
  'Pending',
  'Running',
  'Success',
  'Failed',
  'Skipped',
  'SuccessWithWarning',
  'Canceled',
] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number] | (string & {});

export type TenantedDeploymentMode =
  'Untenanted' | 'TenantedOrUntenanted' | 'Tenanted' | (string & {});
const TENANTED_MODES = ['Untenanted', 'TenantedOrUntenanted', 'Tenanted'] as const;

/** Maps a wire value to its string form: strings pass through, numbers are looked up. */
function fromWire<T extends string>(value: unknown, byNumber: (n: number) => T | undefined): T {
  if (typeof value === 'string') return value as T;
  if (typeof value === 'number') return byNumber(value) ?? (String(value) as T);
  return 'Unknown' as T;
}

export function taskStateFromWire(value: unknown): TaskState {
  return fromWire<TaskState>(value, (n) => TASK_STATE_NUMBERS[n]);
}

/** Assumes the .NET declaration order (Pending = 0 ...), as the contract lists no numbers. */
export function activityStatusFromWire(value: unknown): ActivityStatus {
  return fromWire<ActivityStatus>(value, (n) => ACTIVITY_STATUSES[n]);
}

export function tenantedModeFromWire(value: unknown): TenantedDeploymentMode {
  return fromWire<TenantedDeploymentMode>(value, (n) => TENANTED_MODES[n]);
}

/** A task in one of these states will not change again. */
export function isFinishedTaskState(state: TaskState): boolean {
  return state !== 'Queued' && state !== 'Executing' && state !== 'Cancelling';
}
