// Building blocks shared by every section of the coordination config.
import { isTimeZone } from '../../time/zones.js';
import { Cron } from 'croner';
import { z } from 'zod';

/** A project, environment, tenant or space as people name it in Octopus (name, slug or id). */
export const octopusName = z.string().trim().min(1, 'must not be empty').max(200);

export const email = z.email('must be an email address');
export const recipients = z.array(email).min(1, 'must list at least one recipient');

export const timeZone = z
  .string()
  .refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or UTC');

/** Parse an NCRONTAB (6 fields, seconds first) or classic 5-field cron expression. */
export function parseCron(expression: string, zone = 'UTC'): Cron {
  // NCRONTAB requires day-of-month AND day-of-week to match; Vixie cron uses OR.
  return new Cron(expression, { timezone: zone, domAndDow: true, paused: true });
}

export const cronExpression = z.string().superRefine((value, ctx) => {
  const fields = value.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    ctx.addIssue({
      code: 'custom',
      message: `must have 6 fields (second minute hour day month day-of-week) or 5; got ${fields}`,
    });
    return;
  }
  try {
    parseCron(value);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `is not a valid cron expression: ${(err as Error).message}`,
    });
  }
});

/** A local date-time without offset, read in the time zone given beside it. */
export const localDateTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/,
    'must be a local date or date-time, e.g. 2026-12-24T18:00',
  );

export const freezeWindow = z.strictObject({
  start: localDateTime,
  end: localDateTime,
  timeZone: timeZone.default('UTC'),
  reason: z.string().optional(),
});
export type FreezeWindow = z.output<typeof freezeWindow>;

/**
 * How runs of one playbook or promotion share their concurrency group (default: the playbook or
 * promotion × environment × tenant): `queue` waits its turn (FIFO), `reject` refuses the new run
 * (409 naming the active one), `cancelInProgress` cancels the active and queued runs, then waits.
 */
export const concurrencyPolicies = ['queue', 'reject', 'cancelInProgress'] as const;
export type ConcurrencyPolicy = (typeof concurrencyPolicies)[number];
export const concurrency = z
  .strictObject({
    /**
     * The group's name; runs naming the same group (in any playbook or promotion) take turns.
     * `{environment}` and `{tenant}` are replaced by the run's. Default `<playbook>/{environment}/{tenant}`.
     */
    group: z.string().trim().min(1).max(200).optional(),
    policy: z.enum(concurrencyPolicies).default('queue'),
  })
  .default({ policy: 'queue' });
export type ConcurrencyConfig = z.output<typeof concurrency>;
