// Watches: email people once when a whole set is live in an environment.
import { z } from 'zod';
import { octopusName, recipients } from './common.js';

export const watch = z.strictObject({
  name: z.string().min(1),
  set: z.string().min(1),
  environments: z.array(octopusName).min(1),
  /** Tenants to watch for tenanted projects; omit for untenanted sets. */
  tenants: z.array(octopusName).optional(),
  /** `each`: one email per tenant when that tenant's set is live; `all`: one when every tenant is. */
  tenantMode: z.enum(['each', 'all']).default('each'),
  /** Optional rule that the live releases must belong together. */
  releaseRule: z
    .union([
      z.strictObject({ sameVersion: z.literal(true) }),
      z.strictObject({ combinations: z.array(z.record(z.string(), z.string())).min(1) }),
    ])
    .optional(),
  notifyOnFailure: z.boolean().default(false),
  /** Capture a release train each time the watch announces the set live (one train per combination). */
  captureTrains: z.boolean().default(false),
  recipients,
});
export type Watch = z.output<typeof watch>;
