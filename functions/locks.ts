import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readJsonBody, readQuery } from '../shared/http/body.js';
import { badRequest, notFound } from '../shared/http/errors.js';
import { lockAcquireAdmission } from '../shared/http/admission.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import type { LeaseLocks } from '../shared/locks/leaseLock.js';
import { maxPermits, maxPriority, maxTtlSeconds } from '../shared/locks/limits.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { requireAdminKey } from '../shared/http/adminKey.js';

/** A long-poll answers within this many seconds (Azure's load balancer cuts HTTP calls at about 230 s). */
export const maxWaitSeconds = 200;

const optionalTaskId = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(
    z
      .string()
      .regex(/^ServerTasks-\d+$/, 'must be an Octopus task id such as ServerTasks-123')
      .optional(),
  )
  .optional();

export const acquireBody = z.strictObject({
  holder: z.string().trim().min(1, 'is required: who is asking (shown to others)').max(256),
  permits: z.number().int().min(1).max(maxPermits).optional(),
  ttlSeconds: z.number().int().min(1).max(maxTtlSeconds).optional(),
  wait: z.number().min(0).optional(),
  octopusTaskId: optionalTaskId,
  priority: z.number().int().min(0).max(maxPriority).optional(),
  requestId: z.string().trim().min(1).max(256).optional(),
  queue: z.boolean().optional(),
});

export const leaseBody = z.strictObject({
  leaseId: z.string().trim().min(1, 'is required: the leaseId that acquire returned'),
});

/** Longest lock name (characters, after percent-decoding). */
export const maxLockNameChars = 512;

export const renewBody = leaseBody.extend({
  ttlSeconds: z.number().int().min(1).max(maxTtlSeconds).optional(),
});

export const leaveBody = z
  .strictObject({
    requestId: z.string().trim().min(1).max(256).optional(),
    holder: z.string().trim().min(1).max(256).optional(),
  })
  .refine((b) => b.requestId !== undefined || b.holder !== undefined, {
    message:
      'give the requestId the acquire was sent with (or its holder, if it was sent without a requestId)',
  });

export const lockQuery = z.object({ history: z.enum(['true', 'false', '1', '0']).optional() });

/** Most locks in one pool. */
export const maxPoolNames = 40;

const poolNames = z
  .array(z.string().min(1).max(maxLockNameChars))
  .min(1, 'give the names of the locks in the pool')
  .max(maxPoolNames)
  .refine((names) => new Set(names).size === names.length, 'must not name a lock twice');

export const acquireAnyBody = acquireBody.extend({ names: poolNames });

export const leaveAnyBody = z
  .strictObject({
    names: poolNames,
    requestId: z.string().trim().min(1).max(256).optional(),
    holder: z.string().trim().min(1).max(256).optional(),
  })
  .refine((b) => b.requestId !== undefined || b.holder !== undefined, {
    message:
      'give the requestId the acquire-any was sent with (or its holder, if it was sent without a requestId)',
  });

export const forceReleaseBody = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, 'is required: why the lock is taken away (shown to its holder)')
    .max(1000),
  by: z
    .string()
    .trim()
    .min(1, 'is required: who takes it (a person, shown in the history)')
    .max(256),
  fence: z
    .number()
    .int('must be a whole number')
    .positive('must be a lease fence (1 or more)')
    .optional(),
});

/** The lock service, loaded on first use rather than at start (cold start). */
async function lockService(): Promise<LeaseLocks> {
  const { locksFor } = await import('../shared/locks/runtimeLocks.js');
  return locksFor(await getRuntime());
}

/**
 * The lock name from the raw request URL, decoded exactly once, so names with any characters
 * (including `/`, sent as %2F) work the same on Azure and on the dev host.
 */
export function lockNameOf(request: HttpRequest): string {
  const path = new URL(request.url).pathname;
  const m = /\/locks\/([^/]+)(?:\/(?:acquire|renew|release|leave|force-release))?\/?$/i.exec(path);
  let name: string | undefined;
  try {
    name = m?.[1] !== undefined ? decodeURIComponent(m[1]) : request.params.name;
  } catch {
    throw badRequest('name: the lock name in the URL is not valid percent-encoding.');
  }
  if (!name || name.length > maxLockNameChars) {
    throw badRequest(
      `name: give a lock name of 1 to ${maxLockNameChars} characters in the URL, percent-encoded (e.g. locks/web01%2Fstep-b/acquire).`,
    );
  }
  return name;
}

/** POST /api/locks/{name}/acquire → 200 granted, or 202 with the queue position. */
export async function acquireLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  const body = await readJsonBody(request, acquireBody);
  const locks = await lockService();
  const { wait, ...options } = body;
  const waitMs = Math.min(wait ?? 0, maxWaitSeconds) * 1000;
  // Past the bound: 429 + Retry-After before any storage work (see shared/http/admission.ts).
  const result = await lockAcquireAdmission.run(() =>
    locks.acquireWaiting(name, options, { waitMs }),
  );
  if (result.granted) {
    return { status: 200, jsonBody: { ...result, expiresAt: result.expiresAt.toISOString() } };
  }
  return { status: 202, headers: { 'Retry-After': '1' }, jsonBody: result };
}

/** POST /api/locks/{name}/renew */
export async function renewLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  const body = await readJsonBody(request, renewBody);
  const renewed = await (await lockService()).renew(name, body.leaseId, body.ttlSeconds);
  return {
    status: 200,
    jsonBody: { lock: name, ...renewed, expiresAt: renewed.expiresAt.toISOString() },
  };
}

/** POST /api/locks/{name}/release */
export async function releaseLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  const body = await readJsonBody(request, leaseBody);
  const released = await (await lockService()).release(name, body.leaseId);
  return { status: 200, jsonBody: { lock: name, ...released } };
}

/** POST /api/locks/{name}/leave → 200 `{ left }`: give up a place in the queue; 409 for a grant. */
export async function leaveLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  const body = await readJsonBody(request, leaveBody);
  return { status: 200, jsonBody: await (await lockService()).leave(name, body) };
}

/** GET /api/locks/{name}[?history=true]: holders, waiters in order and why, fences; with the grant history. */
export async function getLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  const query = readQuery(request, lockQuery);
  const locks = await lockService();
  const view = await locks.inspect(name);
  if (!view) throw notFound(`No lock named "${name}" has been used yet.`);
  if (query.history !== 'true' && query.history !== '1') return { status: 200, jsonBody: view };
  const history = await locks.history(name);
  const { overlaps, fenceOrderViolations, unended, endedBeforeGranted, missingFences } =
    await locks.checkOverlaps(name);
  return {
    status: 200,
    jsonBody: {
      ...view,
      history: history.map((g) => ({
        ...g,
        grantedAt: new Date(Math.floor(g.grantedAt / 1000)).toISOString(),
        endedAt:
          g.endedAt === undefined ? null : new Date(Math.floor(g.endedAt / 1000)).toISOString(),
      })),
      overlaps,
      fenceOrderViolations,
      // History that is incomplete (lost records) or whose times disagree: not overlaps.
      unended,
      endedBeforeGranted,
      missingFences,
    },
  };
}

/** GET /api/locks: every lock, and warnings of task-bound holders waiting for each other. */
export async function listLocks(
  _request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const locks = await lockService();
  const [list, deadlocks] = await Promise.all([locks.list(), locks.deadlocks()]);
  // This instance's history writes since it started: retried, and lost after the retries.
  return { status: 200, jsonBody: { locks: list, deadlocks, historyWrites: locks.historyWrites } };
}

/** POST /api/locks/acquire-any → 200 granted (naming the lock), or 202 with the place in the pool's queue. */
export async function acquireAnyLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, acquireAnyBody);
  const locks = await lockService();
  const { wait, names, ...options } = body;
  const waitMs = Math.min(wait ?? 0, maxWaitSeconds) * 1000;
  const result = await lockAcquireAdmission.run(() =>
    locks.acquireAnyWaiting(names, options, { waitMs }),
  );
  if (result.granted) {
    return {
      status: 200,
      jsonBody: { ...result, name: result.lock, expiresAt: result.expiresAt.toISOString() },
    };
  }
  return { status: 202, headers: { 'Retry-After': '1' }, jsonBody: result };
}

/** POST /api/locks/leave-any → 200 `{ left }`: give up a place in a pool's queue. */
export async function leaveAnyLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, leaveAnyBody);
  const { names, ...who } = body;
  return { status: 200, jsonBody: await (await lockService()).leaveAny(names, who) };
}

/**
 * POST /api/locks/{name}/force-release (admin key): free every lease on the lock now. The holders'
 * next renew or release answers 409 saying who did it and why.
 */
export async function forceReleaseLock(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const name = lockNameOf(request);
  requireAdminKey(request, (await getRuntime()).settings);
  const body = await readJsonBody(request, forceReleaseBody);
  const result = await (await lockService()).forceRelease(name, body);
  if (!result) throw notFound(`No lock named "${name}" has been used yet.`);
  return { status: 200, jsonBody: result };
}

/** The `{name}` of every lock route, as the OpenAPI document describes it. */
const lockNameParam = {
  name: {
    description: `The lock name: 1 to ${maxLockNameChars} characters after percent-decoding; any characters, \`/\` sent as %2F.`,
    schema: { type: 'string', minLength: 1, maxLength: maxLockNameChars },
  },
};

export const routes: RouteDeclaration[] = [
  {
    name: 'lockAcquire',
    method: 'POST',
    route: 'locks/{name}/acquire',
    auth: 'function',
    params: lockNameParam,
    body: acquireBody,
    summary: 'Acquire a lease on a named lock or semaphore (optionally waiting)',
    responses: {
      '200': '`{ granted: true, leaseId, fence, expiresAt }`',
      '202': '`{ granted: false, position }`',
      '409':
        'Permits differ from the lock’s, or octopusTaskId names a task that has already finished (`task_ended`)',
      '429':
        'Too many lock calls waiting on this instance (`overloaded`): retry after `Retry-After` seconds',
      ...commonResponses,
    },
    handler: acquireLock,
  },
  {
    name: 'lockRenew',
    method: 'POST',
    route: 'locks/{name}/renew',
    auth: 'function',
    params: lockNameParam,
    body: renewBody,
    summary: 'Renew a lease (holder only)',
    responses: {
      '200': 'Renewed',
      '409': 'Not the holder, or the lease is lost',
      ...commonResponses,
    },
    handler: renewLock,
  },
  {
    name: 'lockRelease',
    method: 'POST',
    route: 'locks/{name}/release',
    auth: 'function',
    params: lockNameParam,
    body: leaseBody,
    summary: 'Release a lease (holder only)',
    responses: { '200': 'Released', '409': 'Not the holder', ...commonResponses },
    handler: releaseLock,
  },
  {
    name: 'lockLeave',
    method: 'POST',
    route: 'locks/{name}/leave',
    auth: 'function',
    params: lockNameParam,
    body: leaveBody,
    summary:
      'Leave the queue of a lock at once (by the requestId of the acquire, or its holder if it had none)',
    responses: {
      '200': '`{ left: true }`, or `{ left: false }` when it had no place',
      '409': 'The request holds the lock: release the lease instead',
      ...commonResponses,
    },
    handler: leaveLock,
  },
  {
    name: 'lockForceRelease',
    method: 'POST',
    route: 'locks/{name}/force-release',
    auth: 'function',
    params: lockNameParam,
    body: forceReleaseBody,
    summary:
      'Free every lease on a lock now (operators: needs the admin key in `x-coordinator-admin-key` besides the function key); the holders’ next renew or release gets 409 with who and why. With `fence`, only the leases granted at or before it: a retry after a lost answer then never frees a lease granted since',
    responses: {
      '200':
        '`{ lock, released: [{ holder, fence }], kept?: [{ holder, fence }], by, reason, at, lastFence }` (`kept`: with `fence`, the leases granted after it, left alone)',
      '401': 'No function key, or no `x-coordinator-admin-key` header (`admin_key_required`)',
      '403': 'Wrong admin key (`admin_key_refused`)',
      '404': 'No such lock',
      '503':
        'No admin key configured (`admin_key_not_configured`) or its Key Vault reference unresolved',
      '400': commonResponses['400'],
    },
    handler: forceReleaseLock,
  },
  {
    name: 'lockAcquireAny',
    method: 'POST',
    route: 'locks/acquire-any',
    auth: 'function',
    body: acquireAnyBody,
    summary:
      'Acquire any one lock of a pool (`names`): FIFO across the pool, one place per request; answers which lock',
    responses: {
      '200': '`{ granted: true, lock, name, leaseId, fence, expiresAt }`',
      '202': '`{ granted: false, position, names, heldBy }`',
      '409': 'octopusTaskId names a task that has already finished (`task_ended`)',
      '429': 'Too many lock calls waiting on this instance (`overloaded`)',
      ...commonResponses,
    },
    handler: acquireAnyLock,
  },
  {
    name: 'lockLeaveAny',
    method: 'POST',
    route: 'locks/leave-any',
    auth: 'function',
    body: leaveAnyBody,
    summary: 'Leave the queue of a pool at once (by the requestId of the acquire-any)',
    responses: { '200': '`{ left }`', ...commonResponses },
    handler: leaveAnyLock,
  },
  {
    name: 'lockGet',
    method: 'GET',
    route: 'locks/{name}',
    auth: 'function',
    params: lockNameParam,
    query: lockQuery,
    summary: 'Holders, waiters in order and why they wait, fences',
    responses: { '200': 'The lock', ...commonResponses },
    handler: getLock,
  },
  {
    name: 'locksList',
    method: 'GET',
    route: 'locks',
    auth: 'function',
    summary:
      "Every lock with holders and waiters, `deadlocks`: task-bound holders each waiting for a lock another holds, and `historyWrites`: this instance's lock history writes (written, retried, failed = lost after retries)",
    responses: { '200': 'The locks', '401': commonResponses['401'] },
    handler: listLocks,
  },
];
registerRoutes(routes);
