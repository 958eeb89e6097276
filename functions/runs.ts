import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readJsonBody, readQuery } from '../shared/http/body.js';
import { badRequest, HttpError, notFound } from '../shared/http/errors.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime, requireOctopus, type Runtime } from '../shared/runtime/runtime.js';
import type { RunStatus } from '../shared/runs/types.js';

// The runs engine is loaded on first use rather than at start (cold start), each handler only the
// modules it needs.

export const startBody = z
  .strictObject({
    /** A playbook from the coordination config, or… */
    playbook: z.string().min(1).optional(),
    /** …a scheduled promotion, started now (claimed per minute: a repeat starts nothing). */
    promotion: z.string().min(1).optional(),
    environment: z.string().trim().min(1).optional(),
    tenant: z.string().trim().min(1).optional(),
    dryRun: z.boolean().default(false),
    /** Who asked, shown in the run and its email. */
    requestedBy: z.string().max(200).optional(),
  })
  .refine((b) => (b.playbook === undefined) !== (b.promotion === undefined), {
    message: 'give either "playbook" or "promotion" (one of them)',
  });

const runStatuses = [
  'queued',
  'running',
  'failing',
  'cancelling',
  'rollingBack',
  'succeeded',
  'failed',
  'cancelled',
] as const satisfies readonly RunStatus[];

export const listQuery = z.object({
  state: z.enum(runStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const cancelBody = z.strictObject({
  reason: z.string().max(500).optional(),
  by: z.string().max(200).optional(),
});

export const decisionBody = z.strictObject({
  /** Who decides (an approver's email, or the name of whoever holds the function key). */
  by: z.string().trim().min(1).max(200),
  comment: z.string().max(1000).optional(),
});

/** POST /api/runs: start a playbook run, or with dryRun the plan with exact releases, deploying nothing. */
export async function startRunHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [
    { checkPlanNames },
    { dryRunPlan },
    { planFromPlaybook },
    { runView },
    { startRun },
    { resolvePlanTrains },
  ] = await Promise.all([
    import('../shared/runs/checkNames.js'),
    import('../shared/runs/dryRun.js'),
    import('../shared/runs/plan.js'),
    import('../shared/runs/view.js'),
    import('../shared/runs/advance.js'),
    import('../shared/runs/trainReleases.js'),
  ]);
  const body = await readJsonBody(request, startBody);
  const runtime = await getRuntime();
  const octopus = requireOctopus(runtime);
  if (body.promotion !== undefined) return startPromotion(runtime, body.promotion, body, context);
  const plan = planFromPlaybook(runtime.config, body.playbook ?? '', {
    environment: body.environment,
    tenant: body.tenant,
  });
  // Every name the plan uses must exist before anything is stored, deployed or emailed (dry run too).
  await checkPlanNames(octopus, plan);
  if (body.dryRun) {
    // The dry run names each deploy's release train and why it was chosen, or why none qualifies.
    const trains = await resolvePlanTrains(runtime, plan);
    const { freezeChecker } = await import('../shared/freezes/check.js');
    const freezes = freezeChecker({
      tables: runtime.tables,
      octopus,
      now: () => runtime.clock.now(),
    });
    return {
      status: 200,
      jsonBody: await dryRunPlan(octopus, trains.plan, trains.problems, { freezes }),
    };
  }
  const { state } = await startRun(
    runtime,
    plan,
    { kind: 'api', by: body.requestedBy },
    { log: contextLog(context) },
  );
  return {
    status: 201,
    headers: { location: `/api/runs/${state.id}` },
    jsonBody: runView(state),
  };
}

/** POST /api/runs with `promotion`: its plan (dryRun), or the promotion started now as a run. */
async function startPromotion(
  runtime: Runtime,
  name: string,
  body: { dryRun: boolean; requestedBy?: string | undefined },
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [
    { findPromotion, readPromotionPlan },
    { startPromotionNow },
    { describePlan },
    { freezeChecker },
  ] = await Promise.all([
    import('../shared/promotion/readPlan.js'),
    import('../shared/promotion/schedule.js'),
    import('../shared/promotion/plan.js'),
    import('../shared/freezes/check.js'),
  ]);
  const promotion = findPromotion(runtime.config, name);
  if (body.dryRun) {
    const octopus = requireOctopus(runtime);
    const at = runtime.clock.now();
    const plan = await readPromotionPlan(octopus, runtime.config, promotion, at, {
      tables: runtime.tables,
      timeZone: runtime.settings.report.timeZone,
      freezes: freezeChecker({ tables: runtime.tables, octopus, now: () => at }),
    });
    return { status: 200, jsonBody: { promotion: name, plan, text: describePlan(plan) } };
  }
  const outcome = await startPromotionNow(
    runtime,
    promotion,
    body.requestedBy ?? `api on ${runtime.instanceId}`,
    contextLog(context),
  );
  const jsonBody = {
    promotion: name,
    slot: outcome.slot,
    state: outcome.state,
    runId: outcome.runId ?? null,
    detail: outcome.detail ?? null,
    ...(outcome.plan ? { text: describePlan(outcome.plan) } : {}),
  };
  switch (outcome.state) {
    case 'started':
      return { status: 201, headers: { location: `/api/runs/${outcome.runId ?? ''}` }, jsonBody };
    case 'blocked':
      throw new HttpError(
        409,
        'promotion_blocked',
        `The promotion did not run: ${outcome.detail ?? ''}`,
        jsonBody,
      );
    case 'failed':
      throw new HttpError(
        502,
        'promotion_failed',
        `The promotion could not be planned: ${outcome.detail ?? ''}`,
        jsonBody,
      );
    default:
      return { status: 200, jsonBody };
  }
}

/** GET /api/runs?state=&limit=: newest first. */
export async function listRunsHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const { RunStore } = await import('../shared/runs/store.js');
  const query = readQuery(request, listQuery);
  const runtime = await getRuntime();
  const runs = await new RunStore(runtime.tables).list({ status: query.state, limit: query.limit });
  return {
    status: 200,
    jsonBody: {
      runs: runs.map((r) => ({
        id: r.id,
        kind: r.kind,
        name: r.name,
        status: r.status,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        finishedAt: r.finishedAt,
      })),
    },
  };
}

/**
 * The run id of the route: run ids are letters, digits, `-`, `_`, `.` and `:` (e.g.
 * run-20261121T100000Z-3f2a1b9c0d). Anything else (a `/` sent as %2F, a `#`) could never name a run
 * and is not a storage key: 400 instead of a failed storage call.
 */
export function runIdOf(request: HttpRequest): string {
  const id = request.params.id ?? '';
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(id))
    throw badRequest(
      'id: a run id is 1 to 200 letters, digits, -, _, . or : (as POST /api/runs and GET /api/runs return it).',
    );
  return id;
}

/** GET /api/runs/{id}: stage by stage, action by action. */
export async function getRunHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ RunStore }, { runView }] = await Promise.all([
    import('../shared/runs/store.js'),
    import('../shared/runs/view.js'),
  ]);
  const id = runIdOf(request);
  const runtime = await getRuntime();
  const stored = await new RunStore(runtime.tables).get(id);
  if (!stored) throw notFound(`There is no run "${id}". List runs with GET /api/runs.`);
  return { status: 200, jsonBody: runView(stored.state) };
}

/** POST /api/runs/{id}/cancel: cancels the Octopus tasks the run started, then its onFailure if the playbook says so. */
export async function cancelRunHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ cancelRun }, { runView }] = await Promise.all([
    import('../shared/runs/advance.js'),
    import('../shared/runs/view.js'),
  ]);
  const id = runIdOf(request);
  const body = await readJsonBody(request, cancelBody);
  const runtime = await getRuntime();
  const outcome = await cancelRun(runtime, id, body.by, body.reason, contextLog(context));
  switch (outcome.kind) {
    case 'notFound':
      throw notFound(`There is no run "${id}". List runs with GET /api/runs.`);
    case 'finished':
      throw new HttpError(
        409,
        'run_finished',
        `Run ${id} already ${outcome.state.status}; there is nothing to cancel.`,
      );
    case 'rollingBack':
      throw new HttpError(
        409,
        'run_rolling_back',
        `Run ${id} has failed and is running its onFailure actions; it cannot be cancelled now and finishes on its own.`,
      );
    case 'cancelling':
      return { status: 202, jsonBody: runView(outcome.state) };
  }
}

/** POST /api/runs/{id}/approve and /reject: an approval decision with the function key. */
function decisionHandler(decision: 'approve' | 'reject') {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const [{ runView }, { recordApprovalDecision }, { clientAddress }] = await Promise.all([
      import('../shared/runs/view.js'),
      import('../shared/runs/decisions.js'),
      import('../shared/http/clientAddress.js'),
    ]);
    const id = runIdOf(request);
    const body = await readJsonBody(request, decisionBody);
    const runtime = await getRuntime();
    const outcome = await recordApprovalDecision(
      runtime,
      {
        runId: id,
        by: body.by,
        decision,
        comment: body.comment,
        via: 'api',
        ip: clientAddress(request),
      },
      { log: contextLog(context) },
    );
    switch (outcome.kind) {
      case 'notFound':
        throw notFound(`There is no run "${id}". List runs with GET /api/runs.`);
      case 'recorded':
        return {
          status: 200,
          jsonBody: { recorded: true, decision: outcome.decision, run: runView(outcome.state) },
        };
      case 'already':
        return {
          status: 200,
          jsonBody: {
            recorded: false,
            alreadyRecorded: true,
            decision: outcome.decision,
            run: runView(outcome.state),
          },
        };
      case 'decided':
        throw new HttpError(
          409,
          'approval_decided',
          `Approval ${outcome.approval.action.id} of run ${id} is decided already: ${outcome.decisions.map((d) => `${d.decision === 'approve' ? 'approved' : 'rejected'} by ${d.by} at ${d.at}`).join('; ')}. Nothing was recorded.`,
        );
      case 'superseded':
      case 'notWaiting':
        throw new HttpError(
          409,
          'no_approval_pending',
          `Run ${id} has no approval waiting for a decision: ${outcome.kind === 'notWaiting' ? outcome.why : 'a newer round was opened'}. Nothing was recorded.`,
        );
    }
  };
}

export const approveRunHandler = decisionHandler('approve');
export const rejectRunHandler = decisionHandler('reject');

export const routes: RouteDeclaration[] = [
  {
    name: 'runsStart',
    method: 'POST',
    route: 'runs',
    auth: 'function',
    body: startBody,
    summary: 'Start a playbook run or a promotion now; with dryRun, the plan with exact releases',
    responses: {
      '201':
        'The run (status "queued" with its position when its concurrency group is busy); a project, environment, tenant or runbook Octopus does not have is a 400 unknown_name',
      '200':
        'Dry run: the plan; for a promotion also nothing to do, or already started this minute',
      '404': 'No such playbook or promotion',
      '409':
        "A promotion guard or condition stopped it, or the group's policy is reject and a run is active (run_rejected, naming it)",
      '502': 'A promotion could not be planned (Octopus unreachable, unknown names)',
      ...commonResponses,
    },
    handler: startRunHandler,
  },
  {
    name: 'runsList',
    method: 'GET',
    route: 'runs',
    auth: 'function',
    query: listQuery,
    summary: 'Runs, newest first, optionally by state',
    responses: { '200': 'Runs', ...commonResponses },
    handler: listRunsHandler,
  },
  {
    name: 'runsGet',
    method: 'GET',
    route: 'runs/{id}',
    auth: 'function',
    summary: 'A run stage by stage, action by action',
    responses: { '200': 'The run', '404': 'No such run', '401': commonResponses['401'] },
    handler: getRunHandler,
  },
  {
    name: 'runsCancel',
    method: 'POST',
    route: 'runs/{id}/cancel',
    auth: 'function',
    body: cancelBody,
    summary: 'Cancel a run: cancels the Octopus tasks it started, then onFailure',
    responses: {
      '202': 'Cancelling',
      '404': 'No such run',
      '409': 'Finished or rolling back',
      ...commonResponses,
    },
    handler: cancelRunHandler,
  },
  {
    name: 'runsApprove',
    method: 'POST',
    route: 'runs/{id}/approve',
    auth: 'function',
    body: decisionBody,
    summary:
      'Approve the approval the run waits on, as `by` (counted once per person; the run goes on with exactly the releases shown in its waitingForApproval.plan)',
    responses: {
      '200':
        '`{ recorded: true, decision, run }`, or `{ recorded: false, alreadyRecorded: true }` when `by` decided this round already',
      '404': 'No such run',
      '409':
        'No approval waits for a decision (`no_approval_pending`), or the round is decided already (`approval_decided`)',
      ...commonResponses,
    },
    handler: approveRunHandler,
  },
  {
    name: 'runsReject',
    method: 'POST',
    route: 'runs/{id}/reject',
    auth: 'function',
    body: decisionBody,
    summary: 'Reject the approval the run waits on: the run fails and runs its onFailure',
    responses: {
      '200':
        '`{ recorded: true, decision, run }`, or `{ recorded: false, alreadyRecorded: true }` when `by` decided this round already',
      '404': 'No such run',
      '409':
        'No approval waits for a decision (`no_approval_pending`), or the round is decided already (`approval_decided`)',
      ...commonResponses,
    },
    handler: rejectRunHandler,
  },
];
registerRoutes(routes);
