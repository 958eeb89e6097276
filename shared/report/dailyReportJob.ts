// The daily report job: on each timer tick, send each due day's report exactly once.
// A day is claimed with a create-if-absent row (`jobs`, `report`, <date>); the send is recorded as an
// intent before it happens and its outcome after, so duplicates, re-runs and crashes never send twice,
// and a failed send is retried on later ticks within a window.
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../clock.js';
import { redactSecrets } from '../config/settings.js';
import type { Mailer } from '../mail/mailer.js';
import { claimOnce, getOrUndefined, updateIfMatch } from '../storage/conditional.js';
import type { TableStore } from '../storage/tableStore.js';
import { addDays, type LocalDate } from '../time/zones.js';
import { subjectOf } from './format.js';
import type { DailyReport, ReportTotals } from './model.js';
import { renderHtml } from './renderHtml.js';
import { renderText } from './renderText.js';
import { dueSlots, type ReportSlot } from './sendSlot.js';
import { claimsTable } from '../storage/tables.js';

export const JOBS_TABLE = claimsTable;
export const REPORT_PARTITION = 'report';
/** A failed send is retried on later ticks for this long after the send time. */
export const RETRY_WINDOW_MS = 12 * 3_600_000;
/** And at most this many attempts in all. */
export const MAX_ATTEMPTS = 6;
/** How long one attempt may take before another instance may take over (building is the slow part). */
export const ATTEMPT_LEASE_MS = 10 * 60_000;
/**
 * Rows listed in the email (about 0.6 KB each), so the email stays near Gmail's 102 KB clipping size;
 * the totals and chart count everything, and the full report (HTTP route, CLI) has every row.
 */
export const EMAIL_MAX_ROWS = 120;
/** Failures listed in the email (about 0.5 KB each); all are counted. */
export const EMAIL_MAX_FAILURES = 40;
/**
 * Most bytes of the email's HTML part, under Gmail's 102 KB clipping point with room to spare
 * (some clients add to the markup): whatever the day's size, lists stop where this is reached.
 */
export const EMAIL_MAX_BYTES = 92 * 1024;
export const EMAIL_LIMITS = {
  maxRows: EMAIL_MAX_ROWS,
  maxFailures: EMAIL_MAX_FAILURES,
  maxBytes: EMAIL_MAX_BYTES,
};

export type SlotStatus =
  'building' | 'sending' | 'sent' | 'failed' | 'unknown' | 'missed' | 'abandoned';

export interface SlotRow {
  status: SlotStatus;
  attempts: number;
  owner: string;
  leaseUntil: Date;
  zone: string;
  updatedAt: Date;
  lastError?: string;
  sentAt?: Date;
  messageId?: string;
  recipients?: number;
  deployments?: number;
  octopusCalls?: number;
  /** The day's totals as JSON, reused as "the day before" by the next report. */
  totals?: string;
  scope?: string;
}

export type TickOutcome =
  | 'sent'
  | 'already-sent'
  | 'in-progress'
  | 'claimed-elsewhere'
  | 'failed'
  | 'missed'
  | 'gave-up'
  | 'unknown'
  | 'busy';

export interface SlotResult {
  date: LocalDate;
  outcome: TickOutcome;
  detail?: string;
}

export type JobLock = <T>(
  fn: () => Promise<T>,
) => Promise<{ ran: true; value: T } | { ran: false; heldBy: string | undefined }>;

export interface DailyReportJobDeps {
  tables: TableStore;
  mailer: Mailer;
  clock: Clock;
  zone: string;
  sendTime: string;
  catchUpWindowMinutes: number;
  recipients: string[];
  owner: string;
  /** Builds the report of a date; `previous` is the day before's stored totals, when known. */
  build: (date: LocalDate, previous: ReportTotals | undefined) => Promise<DailyReport>;
  /** Optional mutual exclusion across instances, so two never build at once. */
  lock?: JobLock;
  /** Link to the full report, put in the email when rows were left out. */
  fullReportUrl?: (date: LocalDate) => string | undefined;
  secrets?: readonly string[];
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The scope in words; the day before's stored totals are reused only for the same scope. */
  scope?: string;
}

function errorText(err: unknown, secrets: readonly string[]): string {
  const text = err instanceof Error ? err.message : String(err);
  return redactSecrets(text, secrets).slice(0, 2000);
}

/** One timer tick: handle every due slot (normally one), oldest first. */
export async function runDailyReportTick(deps: DailyReportJobDeps): Promise<SlotResult[]> {
  const now = deps.clock.now();
  const claimWindowMs = deps.catchUpWindowMinutes * 60_000;
  const slots = dueSlots(now, deps.zone, deps.sendTime, Math.max(claimWindowMs, RETRY_WINDOW_MS));
  const results: SlotResult[] = [];
  for (const slot of slots) {
    const work = () => handleSlot(deps, slot, claimWindowMs);
    if (deps.lock) {
      const locked = await deps.lock(work);
      results.push(
        locked.ran
          ? locked.value
          : {
              date: slot.date,
              outcome: 'busy',
              detail: `held by ${locked.heldBy ?? 'another instance'}`,
            },
      );
    } else {
      results.push(await work());
    }
  }
  return results;
}

function rowOf(entity: Record<string, unknown>): SlotRow {
  return entity as unknown as SlotRow;
}

async function handleSlot(
  deps: DailyReportJobDeps,
  slot: ReportSlot,
  claimWindowMs: number,
): Promise<SlotResult> {
  const table = await deps.tables.table(JOBS_TABLE);
  const now = deps.clock.now();
  const key = { partitionKey: REPORT_PARTITION, rowKey: slot.date };
  const lease = new Date(now.getTime() + ATTEMPT_LEASE_MS);
  const age = now.getTime() - slot.dueAt.getTime();
  const result = (outcome: TickOutcome, detail?: string): SlotResult => ({
    date: slot.date,
    outcome,
    ...(detail ? { detail } : {}),
  });

  const existing = await getOrUndefined<Record<string, unknown>>(
    table,
    key.partitionKey,
    key.rowKey,
  );
  let etag: string;
  let attempts: number;
  if (!existing) {
    const status: SlotStatus = age > claimWindowMs ? 'missed' : 'building';
    // Read just above: a refused claim is another instance's this very moment.
    const claim = await claimOnce(
      table,
      key,
      {
        status,
        attempts: status === 'missed' ? 0 : 1,
        owner: deps.owner,
        leaseUntil: lease,
        zone: deps.zone,
        updatedAt: now,
      } satisfies SlotRow,
      { readHolder: false },
    );
    if (!claim.mine) return result('claimed-elsewhere');
    if (status === 'missed') {
      deps.log?.(
        'warn',
        `The daily report for ${slot.date} was due at ${slot.dueAt.toISOString()} but no run came within the catch-up window (${deps.catchUpWindowMinutes} min); it is not sent. Build it with the CLI report command if it is needed.`,
      );
      return result('missed');
    }
    etag = claim.etag;
    attempts = 1;
  } else {
    const row = rowOf(existing);
    const leaseActive = new Date(row.leaseUntil).getTime() > now.getTime();
    switch (row.status) {
      case 'sent':
        return result('already-sent', row.messageId);
      case 'missed':
        return result('missed');
      case 'unknown':
      case 'abandoned':
        return result(row.status === 'unknown' ? 'unknown' : 'gave-up', row.lastError);
      case 'sending':
        if (leaseActive) return result('in-progress');
        // The previous attempt recorded its intent to send and then stopped: the email may have gone
        // out. Sending again could duplicate it, so this is recorded and left to a person.
        await updateIfMatch(
          table,
          {
            ...key,
            status: 'unknown',
            updatedAt: now,
            lastError:
              'An attempt stopped while sending; the email may or may not have been delivered.',
          },
          existing.etag,
          'Merge',
        );
        deps.log?.(
          'error',
          `The daily report for ${slot.date} may or may not have been sent (an attempt stopped while sending); it is not sent again. Check the recipients' inboxes or the mail provider's activity log.`,
        );
        return result('unknown');
      case 'building':
        if (leaseActive) return result('in-progress');
        break; // the builder stopped before sending: safe to try again
      case 'failed':
        break;
    }
    if (row.attempts >= MAX_ATTEMPTS || age > RETRY_WINDOW_MS) {
      await updateIfMatch(
        table,
        { ...key, status: 'abandoned', updatedAt: now },
        existing.etag,
        'Merge',
      );
      deps.log?.(
        'error',
        `The daily report for ${slot.date} was not sent after ${row.attempts} attempts; last error: ${row.lastError ?? 'none recorded'}. It is not retried any more; send it with the CLI if needed.`,
      );
      return result('gave-up', row.lastError);
    }
    attempts = row.attempts + 1;
    const retry = await updateIfMatch(
      table,
      {
        ...key,
        status: 'building',
        attempts,
        owner: deps.owner,
        leaseUntil: lease,
        updatedAt: now,
      },
      existing.etag,
      'Merge',
    );
    if (!retry.ok) return result('claimed-elsewhere');
    etag = retry.etag;
  }

  return buildAndSend(deps, table, slot, etag, attempts);
}

async function previousTotals(
  table: TableClient,
  date: LocalDate,
  scope: string | undefined,
): Promise<ReportTotals | undefined> {
  const row = await getOrUndefined<Record<string, unknown>>(
    table,
    REPORT_PARTITION,
    addDays(date, -1),
  );
  const stored = row ? rowOf(row) : undefined;
  if (!stored?.totals || (scope !== undefined && stored.scope !== scope)) return undefined;
  try {
    return JSON.parse(stored.totals) as ReportTotals;
  } catch {
    return undefined;
  }
}

async function buildAndSend(
  deps: DailyReportJobDeps,
  table: TableClient,
  slot: ReportSlot,
  claimEtag: string,
  attempts: number,
): Promise<SlotResult> {
  const key = { partitionKey: REPORT_PARTITION, rowKey: slot.date };
  const secrets = deps.secrets ?? [];
  const fail = async (etag: string, err: unknown): Promise<SlotResult> => {
    const lastError = errorText(err, secrets);
    await updateIfMatch(
      table,
      {
        ...key,
        status: 'failed',
        lastError,
        updatedAt: deps.clock.now(),
        leaseUntil: deps.clock.now(),
      },
      etag,
      'Merge',
    );
    deps.log?.(
      'warn',
      `The daily report for ${slot.date} failed (attempt ${attempts} of at most ${MAX_ATTEMPTS}): ${lastError} It is retried on the next timer run.`,
    );
    return { date: slot.date, outcome: 'failed', detail: lastError };
  };

  let report: DailyReport;
  try {
    report = await deps.build(slot.date, await previousTotals(table, slot.date, deps.scope));
  } catch (err) {
    return fail(claimEtag, err);
  }
  const fullReportUrl = deps.fullReportUrl?.(slot.date);
  const message = {
    to: deps.recipients,
    subject: subjectOf(slot.date, report.totals),
    text: renderText(report, { ...EMAIL_LIMITS, fullReportUrl }),
    html: renderHtml(report, { ...EMAIL_LIMITS, fullReportUrl }),
    category: 'daily-report',
  };

  // The intent: from here on a crash leaves the row in 'sending', which is never sent again.
  const intent = await updateIfMatch(
    table,
    {
      ...key,
      status: 'sending',
      updatedAt: deps.clock.now(),
      leaseUntil: new Date(deps.clock.now().getTime() + ATTEMPT_LEASE_MS),
    },
    claimEtag,
    'Merge',
  );
  if (!intent.ok)
    return {
      date: slot.date,
      outcome: 'claimed-elsewhere',
      detail: 'another instance took over this attempt',
    };

  let messageId: string;
  try {
    messageId = (await deps.mailer.send(message)).id;
  } catch (err) {
    return fail(intent.etag, err);
  }
  const outcome = await updateIfMatch(
    table,
    {
      ...key,
      status: 'sent',
      sentAt: deps.clock.now(),
      updatedAt: deps.clock.now(),
      messageId,
      recipients: deps.recipients.length,
      deployments: report.totals.deployments,
      octopusCalls: report.octopusCalls,
      totals: JSON.stringify(report.totals),
      scope: report.scope,
      lastError: '',
    },
    intent.etag,
    'Merge',
  );
  if (!outcome.ok)
    deps.log?.(
      'warn',
      `The daily report for ${slot.date} was sent (${messageId}) but recording that failed: ${outcome.reason}.`,
    );
  deps.log?.(
    'info',
    `Sent the daily report for ${slot.date} to ${deps.recipients.length} recipient(s): ${report.totals.deployments} deployments, ${report.octopusCalls} Octopus requests.`,
  );
  return { date: slot.date, outcome: 'sent', detail: messageId };
}
