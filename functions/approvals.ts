import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { readBodyText } from '../shared/http/body.js';
import { clientAddress } from '../shared/http/clientAddress.js';
import { toErrorResponse } from '../shared/http/handler.js';
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

// Anonymous: approvers have no function key. The signed token in the route is the authorisation.
app.http('approvalPage', {
  route: 'approvals/{token}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: approvalPageHandler,
});
app.http('approvalDecide', {
  route: 'approvals/{token}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: approvalDecisionHandler,
});
