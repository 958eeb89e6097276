// Injected faults: HTTP errors, 429 with Retry-After, slow responses, and webhook delivery faults.
import { z } from 'zod';

const common = {
  /** How many matching requests (or webhook POSTs) it affects; 0 = until cleared. Default 1. */
  count: z.number().int().min(0).default(1),
  /** A regular expression matched against the request path (e.g. "/deployments$"). */
  path: z.string().optional(),
  method: z.string().optional(),
};

export const faultSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('error'),
    status: z.number().int().min(400).max(599).default(503),
    ...common,
  }),
  z.object({
    type: z.literal('rateLimit'),
    retryAfterSeconds: z.number().min(0).default(1),
    ...common,
  }),
  z.object({
    type: z.literal('delay'),
    delayMs: z.number().int().min(0),
    /** true: handle the request first, then hold the answer (a create that happened but whose answer is lost to a client timeout). */
    after: z.boolean().default(false),
    ...common,
  }),
  z.object({
    type: z.literal('webhook'),
    /** drop: not sent; duplicate: sent twice; fail: not delivered and the rest of its batch dropped; slow: sent, then treated as timed out and sent again. */
    mode: z.enum(['drop', 'duplicate', 'fail', 'slow']),
    /** Only events of this category. */
    category: z.string().optional(),
    count: z.number().int().min(0).default(1),
  }),
]);

export const faultsRequestSchema = z.union([
  z.object({ clear: z.literal(true) }),
  z.object({ faults: z.array(faultSchema) }),
  faultSchema,
]);

export type Fault = z.output<typeof faultSchema>;
export type FaultInput = z.input<typeof faultSchema>;
export type HttpFault = Exclude<Fault, { type: 'webhook' }>;
export type WebhookFault = Extract<Fault, { type: 'webhook' }>;

export class FaultInjector {
  private faults: Fault[] = [];

  add(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The faults that apply to this request, each consumed once. */
  takeHttp(method: string, path: string): HttpFault[] {
    const taken: HttpFault[] = [];
    for (const fault of this.faults) {
      if (fault.type === 'webhook') continue;
      if (fault.method && fault.method.toUpperCase() !== method) continue;
      if (fault.path && !new RegExp(fault.path, 'i').test(path)) continue;
      taken.push(fault);
      this.consume(fault);
    }
    return taken;
  }

  takeWebhook(category: string): WebhookFault | undefined {
    const fault = this.faults.find(
      (f): f is WebhookFault => f.type === 'webhook' && (!f.category || f.category === category),
    );
    if (fault) this.consume(fault);
    return fault;
  }

  private consume(fault: Fault): void {
    if (fault.count === 0) return;
    fault.count -= 1;
    if (fault.count === 0) this.faults = this.faults.filter((f) => f !== fault);
  }
}
