// Fills a run's placeholders ({run.id}, {environment}, {status}, {releases}, {runUrl}, …) into notify
// texts and webhook bodies, so one playbook says the right environment whichever it is run for.
import { placeholderPattern, type RunPlaceholder } from '../config/coordination/playbooks.js';
import type { RunState } from './types.js';

export type PlaceholderValues = Partial<Record<RunPlaceholder, string>>;

/** The releases the run's deploy actions chose so far, "Database 1.4.0, Web API 2.1.0 (Acme)". */
export function releasesOf(s: RunState): string {
  const seen: string[] = [];
  for (const stage of s.stages) {
    for (const a of stage.actions) {
      if (a.spec.type !== 'deploy' || !a.resolution) continue;
      const line = `${a.spec.project} ${a.resolution.release.version}${a.spec.tenant ? ` (${a.spec.tenant})` : ''}`;
      if (!seen.includes(line)) seen.push(line);
    }
  }
  return seen.length > 0 ? seen.join(', ') : 'no release chosen yet';
}

/** What the run knows itself; {runUrl} is added by the executor, which knows PUBLIC_URL. */
export function runValues(s: RunState): PlaceholderValues {
  return {
    'run.id': s.id,
    runId: s.id,
    playbook: s.plan.name,
    name: s.plan.name,
    environment: s.plan.environment ?? '',
    tenant: s.plan.tenant ?? '',
    status: s.status,
    releases: releasesOf(s),
  };
}

/** Replace the placeholders `values` has; any other `{…}` stays as written. */
export function fillText(template: string, values: PlaceholderValues): string {
  return template.replace(placeholderPattern, (match, name: string) => {
    const value = values[name as RunPlaceholder];
    return value === undefined ? match : value;
  });
}

/** The same for every string of a JSON value (a webhook body), at any depth. */
export function fillJson(body: unknown, values: PlaceholderValues): unknown {
  if (typeof body === 'string') return fillText(body, values);
  if (Array.isArray(body)) return body.map((b) => fillJson(b, values));
  if (body && typeof body === 'object') {
    return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, fillJson(v, values)]));
  }
  return body;
}
