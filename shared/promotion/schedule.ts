// The scheduled promotion job: find each promotion's due slots, claim each once, plan, start the run or report why not.
import type { Promotion } from '../config/coordination/promotions.js';
import { emailDocument, textBlocks } from '../html/emailLayout.js';
import { statusPageUrl } from '../html/publicLinks.js';
import type { JobResult } from '../jobs/timerJob.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { requireOctopus } from '../runtime/runtime.js';
import { freezeChecker } from '../freezes/check.js';
import { startRun } from '../runs/advance.js';
import { describePlan, type PromotionPlan } from './plan.js';
import { readPromotionPlan } from './readPlan.js';
import { promotionRunId, promotionRunPlan } from './runPlan.js';
import { cronSlots, maxSlotsPerPass, slotKey, sortSlots } from './slots.js';
import { SlotStore, type SlotRecord } from './slotStore.js';
import { readableTime } from '../time/zones.js';

/** A promotion seen for the first time looks back this far (one timer period), not over its whole history. */
const firstLookbackMs = 60_000;
/** However long the app was stopped, slots older than this are not enumerated (they are counted as one note). */
const maxLookbackMs = 7 * 24 * 60 * 60_000;
/** A claim with no outcome after this long belongs to an instance that died: another may take it over. */
export const staleClaimMs = 5 * 60_000;

export interface SlotOutcome {
  promotion: string;
  slot: string;
  state: SlotRecord['state'] | 'alreadyClaimed';
  runId?: string;
  detail?: string;
  plan?: PromotionPlan;
}

export interface RunSlotOptions {
  /** Who claims it (instance id, or "cli:<user>"). */
  by: string;
  log: Log;
  /** 'schedule' for timer slots, 'manual' for a person's run. */
  trigger: 'schedule' | 'manual';
}

/**
 * Plan one claimed slot and act on it: start the run, or record and email why it did not run.
 * The run id is derived from the slot, so a retry after a crash starts the same run, not a second.
 */
async function actOnSlot(
  runtime: Runtime,
  promotion: Promotion,
  slot: string,
  record: SlotRecord,
  etag: string,
  options: RunSlotOptions,
): Promise<SlotOutcome> {
  const store = new SlotStore(runtime.tables);
  const now = runtime.clock.now();
  const finish = async (update: Partial<SlotRecord>): Promise<void> => {
    const ok = await store.update(
      { ...record, ...update, updatedAt: runtime.clock.now().toISOString() },
      etag,
    );
    if (!ok)
      options.log.warn(
        `Promotion ${promotion.name} slot ${slot}: another instance recorded this slot's outcome first.`,
      );
  };
  let plan: PromotionPlan;
  try {
    const octopus = requireOctopus(runtime);
    plan = await readPromotionPlan(octopus, runtime.config, promotion, now, {
      tables: runtime.tables,
      timeZone: runtime.settings.report.timeZone,
      freezes: freezeChecker({ tables: runtime.tables, octopus, now: () => now }),
    });
  } catch (err) {
    const detail = `Could not plan the promotion: ${(err as Error).message}`;
    await finish({ state: 'failed', detail });
    await notify(
      runtime,
      promotion,
      `Promotion "${promotion.name}" (${slotTime(promotion, slot)}) could not be planned`,
      `${detail}\n\nThe slot is recorded as failed and will not be retried; the next slot runs as scheduled. To promote now, fix the cause and run "promote --promotion ${promotion.name}".`,
      options.log,
    );
    return { promotion: promotion.name, slot, state: 'failed', detail };
  }
  const text = describePlan(plan);
  if (plan.blockers.length > 0) {
    const detail = plan.blockers.join('\n');
    await finish({ state: 'blocked', detail, plan: text });
    await notify(
      runtime,
      promotion,
      `Promotion "${promotion.name}" did not run (${slotTime(promotion, slot)})`,
      `The promotion of set ${promotion.set} from ${promotion.from} to ${promotion.to} was stopped before deploying anything:\n\n${plan.blockers.map((b) => `- ${b}`).join('\n')}\n\nNothing was deployed. It runs again at its next scheduled slot.\n\n${text}`,
      options.log,
    );
    return { promotion: promotion.name, slot, state: 'blocked', detail, plan };
  }
  if (plan.deployCount === 0) {
    await finish({
      state: 'nothing',
      detail: 'Every project is already current in the target (or skipped).',
      plan: text,
    });
    return { promotion: promotion.name, slot, state: 'nothing', plan };
  }
  const runId = promotionRunId(promotion.name, slot);
  const { state } = await startRun(
    runtime,
    promotionRunPlan(plan, promotion),
    { kind: 'promotion', by: `${promotion.name} ${slot} (${options.trigger})` },
    { runId, log: options.log },
  );
  await finish({ state: 'started', runId: state.id, plan: text });
  return { promotion: promotion.name, slot, state: 'started', runId: state.id, plan };
}

/** A promotion's email (did not run, missed slots, could not plan) in the one email layout. */
export function promotionMail(
  promotion: Promotion,
  text: string,
  subject: string,
  publicUrl: string | undefined,
): { html: string; text: string } {
  const footer = `You get this because you are a recipient of promotion "${promotion.name}" (${promotion.cron}, ${promotion.timeZone}) of the Octopus Coordinator.`;
  const statusUrl = statusPageUrl(publicUrl);
  const html = emailDocument({
    title: subject,
    tone: 'bad',
    body: textBlocks(text),
    action: { url: statusUrl, text: 'Open the status page' },
    footer,
  });
  const plain = `${text}\n${statusUrl ? `\nStatus page: ${statusUrl}\n` : ''}\n-- \n${footer}\n`;
  return { html, text: plain };
}

/** A slot as people read it, in the promotion's own zone. */
function slotTime(promotion: Promotion, slot: string): string {
  return readableTime(slot, promotion.timeZone);
}

async function notify(
  runtime: Runtime,
  promotion: Promotion,
  subject: string,
  text: string,
  log: Log,
): Promise<void> {
  const to = promotion.recipients ?? [];
  if (to.length === 0) return;
  const { html, text: plain } = promotionMail(promotion, text, subject, runtime.settings.publicUrl);
  try {
    await runtime.mailer.send({ to, subject, text: plain, html, category: 'promotion' });
  } catch (err) {
    log.warn(`Promotion ${promotion.name}: could not send "${subject}": ${(err as Error).message}`);
  }
}

/** Claim a slot (or take over a stale claim of it) and act on it. */
export async function runPromotionSlot(
  runtime: Runtime,
  promotion: Promotion,
  slot: string,
  options: RunSlotOptions,
): Promise<SlotOutcome> {
  const store = new SlotStore(runtime.tables);
  const now = runtime.clock.now().toISOString();
  const record: SlotRecord = {
    promotion: promotion.name,
    slot,
    state: 'claimed',
    claimedAt: now,
    claimedBy: options.by,
    updatedAt: now,
  };
  if (await store.claim(record)) {
    const claimed = await store.get(promotion.name, slot);
    return actOnSlot(runtime, promotion, slot, record, claimed?.etag ?? '*', options);
  }
  const existing = await store.get(promotion.name, slot);
  if (
    existing &&
    existing.state === 'claimed' &&
    runtime.clock.now().getTime() - Date.parse(existing.updatedAt) > staleClaimMs
  ) {
    // The instance that claimed it died before recording an outcome: take it over (ETag-checked).
    const takeover: SlotRecord = { ...record, detail: `taken over from ${existing.claimedBy}` };
    if (await store.update(takeover, existing.etag)) {
      const again = await store.get(promotion.name, slot);
      return actOnSlot(runtime, promotion, slot, takeover, again?.etag ?? '*', options);
    }
  }
  return { promotion: promotion.name, slot, state: 'alreadyClaimed', runId: existing?.runId };
}

/** One pass for one promotion at `now`: run the newest due slot, record older due ones as superseded and old ones as missed. */
export async function schedulePromotion(
  runtime: Runtime,
  promotion: Promotion,
  log: Log,
): Promise<SlotOutcome[]> {
  const store = new SlotStore(runtime.tables);
  const now = runtime.clock.now();
  const watermark = await store.watermark(promotion.name);
  const catchUp = promotion.catchUpMinutes ?? runtime.settings.catchUpWindowMinutes;
  let after = watermark?.until ?? new Date(now.getTime() - firstLookbackMs);
  let note: string | undefined;
  if (now.getTime() - after.getTime() > maxLookbackMs) {
    note = `slots before ${new Date(now.getTime() - maxLookbackMs).toISOString()} were not examined (the coordinator was stopped since ${after.toISOString()})`;
    after = new Date(now.getTime() - maxLookbackMs);
  }
  const slots = cronSlots(promotion.cron, promotion.timeZone, after, now);
  if (slots.length === maxSlotsPerPass)
    note = `more than ${maxSlotsPerPass} slots were missed; only the oldest ${maxSlotsPerPass} are listed`;
  const { due, missed } = sortSlots(slots, now, catchUp);
  const outcomes: SlotOutcome[] = [];
  const stamp = now.toISOString();
  const newlyMissed: string[] = [];
  const claimAs = async (
    slot: Date,
    state: 'missed' | 'superseded',
    detail: string,
  ): Promise<boolean> =>
    store.claim({
      promotion: promotion.name,
      slot: slotKey(slot),
      state,
      claimedAt: stamp,
      claimedBy: runtime.instanceId,
      detail,
    });
  for (const slot of missed) {
    const detail = `Not run: first seen at ${stamp}, more than ${catchUp} minutes after its time (the catch-up window).`;
    if (await claimAs(slot, 'missed', detail)) {
      newlyMissed.push(slotKey(slot));
      outcomes.push({ promotion: promotion.name, slot: slotKey(slot), state: 'missed', detail });
    }
  }
  const newest = due[due.length - 1];
  for (const slot of due.slice(0, -1)) {
    const detail = `Not run: a later slot (${newest ? slotKey(newest) : '?'}) fell inside the catch-up window too and ran instead.`;
    if (await claimAs(slot, 'superseded', detail))
      outcomes.push({
        promotion: promotion.name,
        slot: slotKey(slot),
        state: 'superseded',
        detail,
      });
  }
  if (newest)
    outcomes.push(
      await runPromotionSlot(runtime, promotion, slotKey(newest), {
        by: runtime.instanceId,
        log,
        trigger: 'schedule',
      }),
    );
  if (newlyMissed.length > 0 || note) {
    const lines = newlyMissed.map((s) => `- ${slotTime(promotion, s)}`);
    if (note) lines.push(`- ${note}`);
    log.warn(
      `Promotion ${promotion.name}: ${newlyMissed.length} slot(s) missed: ${newlyMissed.join(', ')}${note ? `; ${note}` : ''}`,
    );
    await notify(
      runtime,
      promotion,
      `Promotion "${promotion.name}" missed ${newlyMissed.length} scheduled slot(s)`,
      `These slots of the promotion of set ${promotion.set} from ${promotion.from} to ${promotion.to} were not run, because the coordinator did not run within ${catchUp} minutes of their time (was the app stopped?):\n\n${lines.join('\n')}\n\nNothing was deployed for them. The next slot runs as scheduled; to promote now, run "promote --promotion ${promotion.name}".`,
      log,
    );
  }
  await store.advanceWatermark(promotion.name, now, watermark);
  return outcomes;
}

/** The timer job: every enabled promotion, each on its own cron and zone. */
export async function scheduledPromotionJob(runtime: Runtime, log: Log): Promise<JobResult> {
  const promotions = runtime.config.promotions.filter((p) => p.enabled);
  if (promotions.length === 0) return { outcome: 'ok', summary: 'no promotions configured' };
  const parts: string[] = [];
  const errors: string[] = [];
  for (const promotion of promotions) {
    try {
      for (const o of await schedulePromotion(runtime, promotion, log)) {
        parts.push(`${o.promotion} ${o.slot}: ${o.state}${o.runId ? ` (${o.runId})` : ''}`);
      }
    } catch (err) {
      errors.push(`${promotion.name}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new Error(`Scheduled promotion failed for ${errors.join('; ')}`);
  return { outcome: 'ok', summary: parts.length > 0 ? parts.join('; ') : 'no slot due' };
}

/**
 * Start a promotion now, outside its schedule (the CLI, `POST /api/runs { promotion }`). Manual runs
 * are claimed per minute, so the same request sent twice, or from two places, starts one run.
 */
export function startPromotionNow(
  runtime: Runtime,
  promotion: Promotion,
  by: string,
  log: Log,
): Promise<SlotOutcome> {
  const minute = new Date(Math.floor(runtime.clock.now().getTime() / 60_000) * 60_000);
  return runPromotionSlot(runtime, promotion, `manual-${slotKey(minute)}`, {
    by,
    log,
    trigger: 'manual',
  });
}
