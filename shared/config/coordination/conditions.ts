// Conditions: rules about what is deployed where, evaluated by the API, playbooks and promotions.
import { z } from 'zod';
import { isSemanticVersion } from '../../versions.js';
import { octopusName } from './common.js';

const minVersion = z.strictObject({
  type: z.literal('minVersion'),
  project: octopusName,
  /** The lowest acceptable version (Octopus's semantic version ordering). */
  atLeast: z.string().min(1).refine(isSemanticVersion, {
    message: 'must be a version such as 2.3 or 2.3.0-beta.1 (up to four numeric parts)',
  }),
  /** Defaults to the environment of the caller (the same environment). */
  environment: octopusName.optional(),
  tenant: octopusName.optional(),
});

const setCurrent = z.strictObject({
  type: z.literal('setCurrent'),
  set: z.string().min(1),
  environment: octopusName.optional(),
  /** Require every current deployment to be successful (default true). */
  successful: z.boolean().default(true),
});

const noActiveDeployment = z.strictObject({
  type: z.literal('noActiveDeployment'),
  project: octopusName.optional(),
  set: z.string().min(1).optional(),
  environment: octopusName.optional(),
});

type ConditionInput =
  | z.input<typeof minVersion>
  | z.input<typeof setCurrent>
  | z.input<typeof noActiveDeployment>
  | { type: 'allOf'; conditions: ConditionRefInput[] };
type ConditionRefInput = string | ConditionInput;

export const condition: z.ZodType<Condition, ConditionInput> = z.lazy(() =>
  z.discriminatedUnion('type', [
    minVersion,
    setCurrent,
    noActiveDeployment,
    z.strictObject({ type: z.literal('allOf'), conditions: z.array(conditionRef).min(1) }),
  ]),
);

/** A condition by name (from `conditions`) or written inline. */
export const conditionRef: z.ZodType<ConditionRef, ConditionRefInput> = z.lazy(() =>
  z.union([z.string().min(1), condition]),
);

export type Condition =
  | z.output<typeof minVersion>
  | z.output<typeof setCurrent>
  | z.output<typeof noActiveDeployment>
  | { type: 'allOf'; conditions: ConditionRef[] };
export type ConditionRef = string | Condition;
