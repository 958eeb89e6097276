// Octopus's deployment freezes: whether one covers a project × environment (× tenant) at a moment, repeats included.
import type { OctopusClient } from '../octopus/client.js';
import type {
  DeploymentFreeze,
  DeploymentFreezeRecurringSchedule,
} from '../octopus/deploymentFreezes.js';
import { OctopusError } from '../octopus/errors.js';
import { deploymentFreezesSince, versionAtLeast } from '../octopus/serverVersion.js';
import type { FreezeHit, FreezeTarget } from './model.js';

const dayMs = 24 * 60 * 60_000;
const weekdays = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** Whether the freeze's scope names the target: its project in that environment, or that tenant there. */
export function freezeScopes(f: DeploymentFreeze, t: FreezeTarget): boolean {
  const envs = f.ProjectEnvironmentScope?.[t.projectId];
  if (Array.isArray(envs) && envs.includes(t.environmentId)) return true;
  return (f.TenantProjectEnvironmentScope ?? []).some(
    (s) =>
      s.ProjectId === t.projectId &&
      s.EnvironmentId === t.environmentId &&
      t.tenantId !== null &&
      s.TenantId === t.tenantId,
  );
}

/** Add n months in UTC, keeping the day of month where the month has it (else its last day). */
function addMonths(start: Date, n: number): Date {
  const d = new Date(start.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + n);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}

/**
 * The occurrence of a freeze in force at `at` (its start and end), or undefined. A repeating freeze
 * repeats its first window (Start–End) every `Unit` days, weeks (on its DaysOfWeek, in the user's UTC
 * offset), months or years, until EndOnDate or EndAfterOccurrences.
 */
export function occurrenceAt(
  f: DeploymentFreeze,
  at: Date,
): { start: Date; end: Date } | undefined {
  const start = Date.parse(f.Start);
  const end = Date.parse(f.End);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return undefined;
  const now = at.getTime();
  const schedule = f.RecurringSchedule;
  if (!schedule) {
    return now >= start && now < end ? { start: new Date(start), end: new Date(end) } : undefined;
  }
  if (now < start) return undefined;
  const length = end - start;
  for (const [index, s] of candidateStarts(schedule, start, now, length)) {
    if (!withinEnd(schedule, s, index)) continue;
    if (now >= s && now < s + length) return { start: new Date(s), end: new Date(s + length) };
  }
  return undefined;
}

function withinEnd(schedule: DeploymentFreezeRecurringSchedule, s: number, index: number): boolean {
  if (schedule.EndType === 'OnDate' && schedule.EndOnDate) {
    const last = Date.parse(schedule.EndOnDate);
    if (Number.isFinite(last) && s > last) return false;
  }
  if (schedule.EndType === 'AfterOccurrences' && typeof schedule.EndAfterOccurrences === 'number')
    return index < schedule.EndAfterOccurrences;
  return true;
}

/** Occurrence starts (with their index) that could cover `now`: the latest one or two before it. */
function candidateStarts(
  schedule: DeploymentFreezeRecurringSchedule,
  start: number,
  now: number,
  length: number,
): [number, number][] {
  const unit = Math.max(1, Math.floor(schedule.Unit || 1));
  const type = schedule.Type.toLowerCase();
  if (type === 'daily' || (type === 'weekly' && !(schedule.DaysOfWeek ?? []).length)) {
    const period = (type === 'daily' ? 1 : 7) * unit * dayMs;
    const k = Math.floor((now - start) / period);
    return [k, k - 1, k - Math.ceil(length / period)]
      .filter((i, n, all) => i >= 0 && all.indexOf(i) === n)
      .map((i) => [i, start + i * period]);
  }
  if (type === 'weekly') {
    // Each listed weekday (in the user's offset) of every `unit`-th week, at the first window's time of day.
    const offset = (schedule.UserUtcOffsetInMinutes ?? 0) * 60_000;
    const days = new Set((schedule.DaysOfWeek ?? []).map((d) => weekdays.indexOf(d.toLowerCase())));
    const localStart = start + offset;
    const timeOfDay = ((localStart % dayMs) + dayMs) % dayMs;
    const firstDay = localStart - timeOfDay;
    const firstWeek = firstDay - new Date(firstDay).getUTCDay() * dayMs;
    const out: [number, number][] = [];
    const lookBack = Math.ceil(length / dayMs) + 1;
    for (let back = 0; back <= lookBack; back++) {
      const day = Math.floor((now + offset) / dayMs) * dayMs - back * dayMs;
      if (day < firstDay || !days.has(new Date(day).getUTCDay())) continue;
      const week = Math.floor((day - firstWeek) / (7 * dayMs));
      if (week % unit !== 0) continue;
      const index = Math.round((day - firstDay) / dayMs);
      out.push([index, day + timeOfDay - offset]);
    }
    return out;
  }
  if (type === 'monthly' || type === 'annually') {
    const months = (type === 'monthly' ? 1 : 12) * unit;
    const from = new Date(start);
    const n = new Date(now);
    const elapsed =
      (n.getUTCFullYear() - from.getUTCFullYear()) * 12 + n.getUTCMonth() - from.getUTCMonth();
    const k = Math.floor(elapsed / months);
    return [k, k - 1].filter((i) => i >= 0).map((i) => [i, addMonths(from, i * months).getTime()]);
  }
  // A repeat type this version does not know: read it as in force from its first start (never kinder than Octopus).
  return [[0, now]];
}

/** The Octopus freezes that cover a target at `at`. */
export function octopusHits(
  freezes: readonly DeploymentFreeze[],
  target: FreezeTarget,
  at: Date,
): FreezeHit[] {
  const hits: FreezeHit[] = [];
  for (const f of freezes) {
    if (!freezeScopes(f, target)) continue;
    const occurrence = occurrenceAt(f, at);
    if (!occurrence) continue;
    hits.push({
      source: 'octopus',
      id: f.Id,
      name: f.Name,
      until: occurrence.end.toISOString(),
      // Octopus refuses every deployment into a frozen scope; overriding one needs a person with DeploymentFreezeAdminister.
      allowsRollback: false,
    });
  }
  return hits;
}

export interface OctopusFreezeRead {
  freezes: DeploymentFreeze[];
  /** Why Octopus's freezes were not read (older server, no such API, no permission); absent when they were. */
  skipped?: string;
}

/**
 * Octopus's freezes that have not ended (one call for up to 100). An older server, or one that
 * answers 404 or 403, is skipped with the reason; other failures (unreachable) are thrown, as any read.
 */
export async function readOctopusFreezes(octopus: OctopusClient): Promise<OctopusFreezeRead> {
  const version = await octopus.serverVersion().catch(() => undefined);
  if (version !== undefined && versionAtLeast(version, deploymentFreezesSince) === false) {
    return {
      freezes: [],
      skipped: `Octopus ${version} predates deployment freezes (${deploymentFreezesSince.replace(/\.0$/, '')}+): only the coordinator's own freezes are checked`,
    };
  }
  try {
    return { freezes: await octopus.deploymentFreezes.list({ includeComplete: false }) };
  } catch (err) {
    if (err instanceof OctopusError && (err.status === 404 || err.status === 403)) {
      return {
        freezes: [],
        skipped:
          err.status === 404
            ? `this Octopus server has no deployment freezes API (GET /api/deploymentfreezes answered 404): only the coordinator's own freezes are checked`
            : `the coordinator's Octopus API key may not read deployment freezes (403): only the coordinator's own freezes are checked; give its user permission to view deployment freezes`,
      };
    }
    throw err;
  }
}
