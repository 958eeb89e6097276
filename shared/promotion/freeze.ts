// Freeze windows: dates and times (in their own zone) when no promotion runs.
import type { FreezeWindow } from '../config/coordination/common.js';
import { localToInstant } from './zonedTime.js';

/** The window `at` falls in (start inclusive, end exclusive), or undefined. */
export function activeFreeze(windows: readonly FreezeWindow[], at: Date): FreezeWindow | undefined {
  return windows.find((w) => {
    const start = localToInstant(w.start, w.timeZone).getTime();
    const end = localToInstant(w.end, w.timeZone).getTime();
    return at.getTime() >= start && at.getTime() < end;
  });
}

export function describeFreeze(w: FreezeWindow): string {
  return `a freeze window is in force from ${w.start} to ${w.end} (${w.timeZone})${w.reason ? `: ${w.reason}` : ''}`;
}
