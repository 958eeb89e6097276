// Scheduled promotions: move a whole set from one environment to another on a cron, in order.
import { z } from 'zod';
import { conditionRef } from './conditions.js';
import { approvalSpec } from './playbooks.js';
import {
  concurrency,
  cronExpression,
  freezeWindow,
  octopusName,
  recipients,
  timeZone,
} from './common.js';

export const promotion = z.strictObject({
  name: z.string().min(1),
  set: z.string().min(1),
  from: octopusName,
  to: octopusName,
  /**
   * What moves: `current` (default) the release current and successful in `from` for each project;
   * `train` exactly the releases of the newest verified train of the set in `from` (nothing newer).
   */
  source: z.enum(['current', 'train']).default('current'),
  /** NCRONTAB (6 fields, seconds first) in `timeZone`, e.g. "0 0 18 * * Mon-Fri". */
  cron: cronExpression,
  timeZone: timeZone.default('UTC'),
  tenants: z.array(octopusName).optional(),
  enabled: z.boolean().default(true),
  /** Override of CATCH_UP_WINDOW_MINUTES for this promotion. */
  catchUpMinutes: z.number().int().min(0).optional(),
  /** Only promote if every source deployment is successful (default true). */
  requireSuccessfulSource: z.boolean().default(true),
  rollbackOnFailure: z.boolean().default(false),
  /** rollbackOnFailure puts projects back in reverse dependency order (default) or all at once. */
  rollbackOrder: z.enum(['reverseDependency', 'parallel']).default('reverseDependency'),
  /**
   * While a freeze (POST /api/freezes, or an Octopus deployment freeze) covers a deploy's target: wait
   * for it to end, saying why (default), or fail the action (and run onFailure).
   */
  onFreeze: z.enum(['wait', 'fail']).default('wait'),
  /** Which runs take turns with this promotion's runs, and what a second one does (default: queue). */
  concurrency,
  conditions: z.array(conditionRef).default([]),
  freezeWindows: z.array(freezeWindow).default([]),
  recipients: recipients.optional(),
  /** Wait for people to approve the plan (exact releases, stages) before deploying anything. */
  approval: approvalSpec.optional(),
});
export type Promotion = z.output<typeof promotion>;
