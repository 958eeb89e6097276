// POST /api/trains: capture the combination that is current and successful for a set in one
// environment (and tenant) now, read fresh from Octopus (one dashboard call), as a train.
import { CoordinatorError } from '../errors.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { octopusForSpace, spaceOfSet } from '../runtime/spaceClients.js';
import { takeStatusSnapshot } from '../status/snapshot.js';
import { captureCell, type CaptureResult } from './soak.js';

export interface CaptureRequest {
  set: string;
  environment: string;
  tenant?: string;
  /** Who asked (shown on the train). */
  by: string;
}

const lower = (s: string) => s.toLowerCase();

export async function captureTrain(
  runtime: Runtime,
  request: CaptureRequest,
  log: Log,
): Promise<CaptureResult> {
  const sets = Object.keys(runtime.config.projectSets);
  if (!sets.includes(request.set))
    throw new CoordinatorError(
      'not_found',
      'unknown_set',
      `set: there is no project set "${request.set}" in the coordination config (sets: ${sets.join(', ') || 'none'}).`,
    );
  const readAt = runtime.clock.now();
  const snapshot = await takeStatusSnapshot(runtime, { sets: [request.set] });
  const problem = snapshot.problems.find((p) => p.set === request.set || p.set === '*');
  if (problem)
    throw new CoordinatorError(
      'unavailable',
      'octopus_unreadable',
      `The set's status could not be read from Octopus, so nothing was captured: ${problem.message}`,
    );
  const client = octopusForSpace(runtime, spaceOfSet(runtime, request.set));
  const environmentId = client
    ? await client.resolve.environmentId(request.environment)
    : request.environment;
  const inEnvironment = snapshot.cells.filter((c) => c.environmentId === environmentId);
  if (inEnvironment.length === 0)
    throw new CoordinatorError(
      'conflict',
      'set_incomplete',
      `Set ${request.set} is not complete in ${request.environment}: none of its projects (${runtime.config.projectSets[request.set]?.projects.join(', ') ?? ''}) has ${request.environment} in its lifecycle.`,
      { set: request.set, environment: request.environment, missing: [] },
    );
  const tenants = inEnvironment.flatMap((c) => (c.tenant ? [c.tenant.name] : []));
  if (tenants.length > 0 && request.tenant === undefined)
    throw new CoordinatorError(
      'invalid',
      'bad_request',
      `tenant: set ${request.set} is tenanted, so a train is per tenant; name one of ${tenants.join(', ')}.`,
    );
  if (tenants.length === 0 && request.tenant !== undefined)
    throw new CoordinatorError(
      'invalid',
      'bad_request',
      `tenant: set ${request.set} is not tenanted (it lists no tenants); leave "tenant" out.`,
    );
  const cell = inEnvironment.find(
    (c) =>
      request.tenant === undefined ||
      (c.tenant !== null &&
        (lower(c.tenant.name) === lower(request.tenant) || c.tenant.id === request.tenant)),
  );
  if (!cell)
    throw new CoordinatorError(
      'invalid',
      'bad_request',
      `tenant: "${request.tenant ?? ''}" is not one of the tenants of set ${request.set} (${tenants.join(', ')}).`,
    );
  if (cell.state !== 'complete') {
    const missing = cell.projects
      .filter((p) => p.current?.State !== 'Success')
      .map((p) => ({
        project: p.project,
        release: p.current?.ReleaseVersion ?? null,
        state: p.current?.State ?? 'NeverDeployed',
      }));
    const where = `${cell.environment}${cell.tenant ? ` for ${cell.tenant.name}` : ''}`;
    throw new CoordinatorError(
      'conflict',
      'set_incomplete',
      `Set ${request.set} is not complete in ${where}, so there is no combination to capture: ${missing
        .map((m) =>
          m.release
            ? `${m.project} ${m.release} is ${m.state}`
            : `${m.project} has never been deployed there`,
        )
        .join('; ')}.`,
      {
        set: request.set,
        environment: cell.environment,
        tenant: cell.tenant?.name ?? null,
        missing,
      },
    );
  }
  return captureCell(runtime, cell, readAt, request.by, log);
}
