import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readBodyText } from '../shared/http/body.js';
import { clientAddress } from '../shared/http/clientAddress.js';
import { toErrorResponse } from '../shared/http/handler.js';
import { registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime } from '../shared/runtime/runtime.js';

/** The confirmation form's fields (application/x-www-form-urlencoded, as a browser posts it). */
export const decisionForm = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(1000).optional(),
});

const page = () => import('../shared/ui/approvalPage.js');

function answer(
  headers: Record<string, string>,
  result: { status: number; body: string },
): HttpResponseInit {
  return { status: result.status, headers, body: result.body };
}

/** Whatever fails, the person who clicked gets a page saying so (no stack, no secret). */
async function asPage(
  context: InvocationContext,
  work: (p: Awaited<ReturnType<typeof page>>) => Promise<{ status: number; body: string }>,
): Promise<HttpResponseInit> {
  const p = await page();
  try {
    return answer(p.approvalPageHeaders, await work(p));
  } catch (err) {
    const mapped = toErrorResponse(err, context);
    const status = mapped.status ?? 500;
    return answer(p.approvalPageHeaders, {
      status,
      body: p.problemPage(
        status >= 500
          ? 'The coordinator could not handle this right now. Nothing was decided; try the link again in a minute.'
          : ((mapped.jsonBody as { error?: { message?: string } } | undefined)?.error?.message ??
              'The request was not understood.'),
      ),
    });
  }
}

/** GET /api/approvals/{token}: the plan and a form. Changes nothing, so link scanners approve nothing. */
export async function approvalPageHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return asPage(context, async (p) =>
    p.showApprovalPage(await getRuntime(), request.params.token ?? ''),
  );
}

/** POST /api/approvals/{token}: the form's decision, recorded once. */
export async function approvalDecisionHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return asPage(context, async (p) => {
    const text = await readBodyText(request, 16 * 1024);
    const fields = Object.fromEntries(new URLSearchParams(text));
    const form = decisionForm.safeParse(fields);
    if (!form.success)
      return {
        status: 400,
        body: p.problemPage(
          'The form was not sent as the page makes it: choose Approve or Reject on the page (a comment may have at most 1000 characters).',
        ),
      };
    return p.decideOnApprovalPage(
      await getRuntime(),
      request.params.token ?? '',
      form.data,
      clientAddress(request),
      contextLog(context),
    );
  });
}

const pageResponses = {
  '400':
    'The link is not valid (changed, cut short, or signed with another key), or the form is not the page’s',
  '404': 'The run no longer exists',
  '409': 'Nothing to decide (decided by others, or the approval ended)',
  '410': 'The link expired, or the plan changed and a newer request was sent',
  '503': 'COORDINATOR_APPROVAL_KEY is not set',
};

// Anonymous: approvers have no function key. The signed token in the route is the authorisation.
export const routes: RouteDeclaration[] = [
  {
    name: 'approvalPage',
    method: 'GET',
    route: 'approvals/{token}',
    auth: 'anonymous',
    produces: 'text/html',
    errorsAs: 'text/html',
    params: {
      token: {
        description: 'The signed token of an emailed approval link',
        schema: { type: 'string', maxLength: 2000 },
      },
    },
    summary:
      'The confirmation page of an emailed approval link: the plan and a form; changes nothing. The signed token is the authorisation',
    responses: {
      '200': 'The plan and the form, or "already decided" for a link used before',
      ...pageResponses,
    },
    handler: approvalPageHandler,
    errors: 'own',
  },
  {
    name: 'approvalDecide',
    method: 'POST',
    route: 'approvals/{token}',
    auth: 'anonymous',
    produces: 'text/html',
    errorsAs: 'text/html',
    form: decisionForm,
    params: {
      token: {
        description: 'The signed token of an emailed approval link',
        schema: { type: 'string', maxLength: 2000 },
      },
    },
    summary:
      'The confirmation form: approve or reject as the approver the link names (once per link and round)',
    responses: {
      '200': 'Recorded (or this link was used already: nothing changed)',
      ...pageResponses,
    },
    handler: approvalDecisionHandler,
    errors: 'own',
  },
];
registerRoutes(routes);
