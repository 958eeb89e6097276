// The daily deployment report: scope and recipients.
import { z } from 'zod';
import { octopusName, recipients } from './common.js';

export const report = z.strictObject({
  recipients,
  /** Spaces to report on; defaults to the config's space. */
  spaces: z.array(octopusName).optional(),
  /** Limit the report to the projects of these sets. */
  sets: z.array(z.string().min(1)).optional(),
  environments: z.array(octopusName).optional(),
});
export type ReportConfig = z.output<typeof report>;
