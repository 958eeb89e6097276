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
});
export type Rule = z.output<typeof rule>;
