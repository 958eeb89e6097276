// Playbooks: ordered stages of parallel actions, with onFailure actions (the "parent project").
import { z } from 'zod';
import { conditionRef } from './conditions.js';
import { concurrency, email, octopusName, recipients, timeZone } from './common.js';

const actionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be letters, digits, _ . - (at most 64)');

/** A release train's id: its set, `@`, and 16 hex digits of its content's hash. */
export const trainIdPattern = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})@([0-9a-f]{16})$/;

/** Which release a deploy action deploys. */
export const releaseSelector = z.union([
  z.literal('latest'),
  z.strictObject({ version: z.string().min(1) }),
  z.strictObject({ range: z.string().min(1) }),
  z.strictObject({ latestSuccessfulIn: octopusName }),
  /**
   * The release of this project in a release train: a train id (`web-stack@3f2a…`), or
   * `latestVerified`, the newest verified train of `set` in `from` (for the action's tenant).
   */
  z.strictObject({
    train: z.string().min(1),
    /** latestVerified: the set (default: the one configured set that has the action's project). */
    set: z.string().min(1).optional(),
    /** latestVerified: the environment the train was verified in. */
    from: octopusName.optional(),
  }),
]);
export type ReleaseSelector = z.output<typeof releaseSelector>;

const timeoutMinutes = z
  .number()
  .positive()
  .max(24 * 60)
  .optional();

const deploy = z.strictObject({
  type: z.literal('deploy'),
  id: actionId.optional(),
  project: octopusName,
  environment: octopusName,
  tenants: z.array(octopusName).optional(),
  release: releaseSelector.default('latest'),
  /** Octopus's deployment conditions: always, only if not current, only if newer. */
  when: z.enum(['always', 'ifNotCurrent', 'ifNewer']).default('ifNotCurrent'),
  /** Allow moving the environment to an older release (a deliberate rollback). */
  allowDowngrade: z.boolean().default(false),
  timeoutMinutes,
});

const wait = z.strictObject({
  type: z.literal('wait'),
  id: actionId.optional(),
  /** Wait a fixed time, until a time of day (HH:mm in timeZone) or an ISO date-time, or until a condition holds. */
  minutes: z.number().positive().optional(),
  until: z
    .string()
    .regex(
      /^(\d{2}:\d{2}(:\d{2})?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))$/,
      'must be a time of day such as 18:00 or a date-time with offset such as 2026-11-21T18:00:00Z',
    )
    .optional(),
  timeZone: timeZone.optional(),
  condition: conditionRef.optional(),
  timeoutMinutes,
});

/**
 * What notify subjects and bodies and webhook body strings may say about the run, as `{name}` (the
 * older `{{name}}` works too): filled in when the action runs, so one playbook reads right in every
 * environment it is run for.
 */
export const runPlaceholders = [
  'run.id',
  'runId',
  'playbook',
  'name',
  'environment',
  'tenant',
  'status',
  'releases',
  'runUrl',
] as const;
export type RunPlaceholder = (typeof runPlaceholders)[number];

/** `{word}` or `{{word}}` in a template, where word looks like a placeholder name. */
export const placeholderPattern = /\{\{?([A-Za-z][A-Za-z0-9_.]*)\}\}?/g;

/** A text that may hold placeholders: an unknown one is a config error, not a literal in an email. */
function knownPlaceholders(text: string, ctx: z.RefinementCtx): void {
  for (const [, name] of text.matchAll(placeholderPattern)) {
    if (!(runPlaceholders as readonly string[]).includes(name ?? '')) {
      ctx.addIssue({
        code: 'custom',
        message: `{${name ?? ''}} is not a placeholder; use one of ${runPlaceholders.map((p) => `{${p}}`).join(', ')}`,
      });
    }
  }
}

const notify = z.strictObject({
  type: z.literal('notify'),
  id: actionId.optional(),
  to: z.array(email).min(1),
  subject: z.string().min(1).superRefine(knownPlaceholders),
  body: z.string().superRefine(knownPlaceholders).optional(),
});

const webhook = z.strictObject({
  type: z.literal('webhook'),
  id: actionId.optional(),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
  /** Header values may name an app setting as %SETTING% so secrets stay out of the config. */
  headers: z.record(z.string(), z.string()).default({}),
  body: z.unknown().optional(),
  timeoutMinutes,
});

const runbook = z.strictObject({
  type: z.literal('runbook'),
  id: actionId.optional(),
  project: octopusName,
  runbook: octopusName,
  environment: octopusName,
  tenants: z.array(octopusName).optional(),
  timeoutMinutes,
});

const check = z.strictObject({
  type: z.literal('check'),
  id: actionId.optional(),
  condition: conditionRef,
});

/**
 * An approval gate: the run waits until `minApprovals` of `approvers` approve the plan of the stages
 * after it (or one rejects, or `timeoutMinutes` pass). Alone in its stage.
 */
export const approvalSpec = z.strictObject({
  approvers: z.array(email).min(1, 'must list at least one approver'),
  minApprovals: z.number().int().min(1).max(50).default(1),
  /** How long the approvers have (default one day, at most a week); the run's own timeout pauses meanwhile. */
  timeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(24 * 60),
});
export type ApprovalSpec = z.output<typeof approvalSpec>;

const approval = approvalSpec.extend({
  type: z.literal('approval'),
  id: actionId.optional(),
});

/** Approval problems no shape check sees: more approvals needed than approvers, approvers twice. */
export function checkApproval(
  spec: ApprovalSpec,
  problem: (path: (string | number)[], message: string) => void,
): void {
  const seen = new Set<string>();
  spec.approvers.forEach((a, i) => {
    if (seen.has(a.toLowerCase())) problem(['approvers', i], `lists "${a}" twice`);
    seen.add(a.toLowerCase());
  });
  if (spec.minApprovals > seen.size)
    problem(
      ['minApprovals'],
      `asks for ${spec.minApprovals} approvals but lists ${seen.size} approver(s); list more approvers or lower minApprovals`,
    );
}

/** onFailure only: redeploy the releases that were current before the run started. */
const redeployPrevious = z.strictObject({
  type: z.literal('redeployPrevious'),
  id: actionId.optional(),
  projects: z.array(octopusName).min(1),
  environment: octopusName.optional(),
  timeoutMinutes,
});

export const action = z.discriminatedUnion('type', [
  deploy,
  wait,
  notify,
  webhook,
  runbook,
  check,
  approval,
]);
export const failureAction = z.discriminatedUnion('type', [
  redeployPrevious,
  notify,
  webhook,
  runbook,
  deploy,
]);
export type Action = z.output<typeof action>;
export type FailureAction = z.output<typeof failureAction>;

export const stage = z.strictObject({
  name: z.string().min(1),
  actions: z.array(action).min(1, 'a stage needs at least one action'),
});

export const playbook = z.strictObject({
  description: z.string().optional(),
  space: octopusName.optional(),
  stages: z.array(stage).min(1, 'a playbook needs at least one stage'),
  onFailure: z.array(failureAction).default([]),
  /** Run onFailure when the run is cancelled too (default true). */
  onFailureWhenCancelled: z.boolean().default(true),
  timeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(120),
  recipients: recipients.optional(),
  /** Which runs take turns with this playbook's runs, and what a second one does (default: queue). */
  concurrency,
  /** onFailure's redeployPrevious puts projects back in reverse dependency order (default) or all at once. */
  rollbackOrder: z.enum(['reverseDependency', 'parallel']).default('reverseDependency'),
  /**
   * While a freeze (POST /api/freezes, or an Octopus deployment freeze) covers a deploy's target: wait
   * for it to end, saying why (default), or fail the action (and run onFailure).
   */
  onFreeze: z.enum(['wait', 'fail']).default('wait'),
});
export type Playbook = z.output<typeof playbook>;
