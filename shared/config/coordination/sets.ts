// Project sets: related projects and the dependencies between them.
import { z } from 'zod';
import { octopusName } from './common.js';

export const projectSet = z.strictObject({
  description: z.string().optional(),
  /** The Octopus space of the set; defaults to the config's `space`, then OCTOPUS_SPACE. */
  space: octopusName.optional(),
  projects: z.array(octopusName).min(1, 'must list at least one project'),
  /** project -> the projects it needs first (deployed in an earlier stage). */
  dependsOn: z.record(z.string(), z.array(octopusName)).default({}),
  /** Tenants to consider for tenanted projects (omit for untenanted sets). */
  tenants: z.array(octopusName).optional(),
  /**
   * Release trains: how long a captured train must stand unchanged, with no failed deployment of a
   * member, in its environment before it counts as verified (minutes; fractions allowed; default 60).
   */
  soakMinutes: z
    .number()
    .min(0)
    .max(30 * 24 * 60)
    .default(60),
});
export type ProjectSet = z.output<typeof projectSet>;
