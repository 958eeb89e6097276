// Rules: start a playbook when an Octopus event happens (e.g. project X succeeded in Test).
import { z } from 'zod';
import { octopusName } from './common.js';

export const rule = z.strictObject({
  name: z.string().min(1),
  when: z.strictObject({
    category: z.string().min(1).default('DeploymentSucceeded'),
    project: octopusName,
    environment: octopusName,
    tenant: octopusName.optional(),
  }),
  start: z.string().min(1),
  /**
   * Also fire on deployments the coordinator created itself (its runs' deploys and rollbacks, marked
   * `coordinator run=…` in their Comments). Off by default, so a run never sets off rules by itself.
   */
  includeCoordinatorDeployments: z.boolean().default(false),
});
export type Rule = z.output<typeof rule>;

/**
 * How many rule-started runs may follow one another: a rule firing on a deployment of a rule-started
 * run makes a chain of two, which the default (1) refuses. Bounds every loop a config can describe.
 */
export const ruleChainDepth = z.number().int().min(1).max(10).default(1);
