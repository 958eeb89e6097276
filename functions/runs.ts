import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { readJsonBody, readQuery } from '../shared/http/body.js';
import { badRequest, HttpError, notFound } from '../shared/http/errors.js';
import { jsonApi } from '../shared/http/handler.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime, requireOctopus, type Runtime } from '../shared/runtime/runtime.js';
import type { RunStatus } from '../shared/runs/index.js';

/** The runs engine, loaded on first use rather than at start (cold start). */
const runsEngine = () => import('../shared/runs/index.js');

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
  const { checkPlanNames, dryRunPlan, planFromPlaybook, runView, startRun } = await runsEngine();
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
  if (body.dryRun) return { status: 200, jsonBody: await dryRunPlan(octopus, plan) };
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
  const [{ findPromotion, readPromotionPlan }, { startPromotionNow }, { describePlan }] =
    await Promise.all([
      import('../shared/promotion/readPlan.js'),
      import('../shared/promotion/schedule.js'),
      import('../shared/promotion/plan.js'),
    ]);
  const promotion = findPromotion(runtime.config, name);
  if (body.dryRun) {
    const plan = await readPromotionPlan(
      requireOctopus(runtime),
      runtime.config,
      promotion,
      runtime.clock.now(),
    );
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
  const { RunStore } = await runsEngine();
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
  const { RunStore, runView } = await runsEngine();
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
  const { cancelRun, runView } = await runsEngine();
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
      runsEngine(),
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

app.http('runsStart', {
  route: 'runs',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(startRunHandler),
});
app.http('runsList', {
  route: 'runs',
  methods: ['GET'],
  authLevel: 'function',
  handler: jsonApi(listRunsHandler),
});
app.http('runsGet', {
  route: 'runs/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: jsonApi(getRunHandler),
});
app.http('runsCancel', {
  route: 'runs/{id}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(cancelRunHandler),
});
app.http('runsApprove', {
  route: 'runs/{id}/approve',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(approveRunHandler),
});
app.http('runsReject', {
  route: 'runs/{id}/reject',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(rejectRunHandler),
});
