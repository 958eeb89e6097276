// Sending a watch's email exactly once per announcement, across polls, webhooks and instances:
// claim (the intent) with claimOnce, send, record the outcome. A failed send is retried later.
import { statusPageUrl } from '../html/publicLinks.js';
import { MailError } from '../mail/mailer.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { octopusForSpace, spaceOfSet, taskWebUrl } from '../runtime/spaceClients.js';
import { claimOnce, getOrUndefined, listPartition, updateIfMatch } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { fromJsonParts, jsonParts } from '../storage/jsonParts.js';
import type { WatchNotice } from './evaluate.js';
import { watchMessage } from './message.js';

export const watchMailTable = 'watchmail';
/** A claim older than this with no outcome is taken to be from a crashed sender and sent again. */
export const staleClaimMs = 10 * 60_000;
/** A send that keeps failing (SendGrid down) is given up after this many attempts. */
export const maxSendAttempts = 20;

export type MailState = 'sending' | 'sent' | 'failed' | 'rejected';

interface MailRow {
  watch: string;
  set: string;
  kind: string;
  environment: string;
  tenant: string;
  /** The announced releases are JSON in `releases`, `releases1`, ... (see jsonParts). */
  releasesParts?: number;
  state: MailState;
  attempts: number;
  claimedBy: string;
  claimedAt: string;
  sentAt?: string;
  messageId?: string;
  lastError?: string;
}

export type DeliveryOutcome = 'sent' | 'already-sent' | 'in-progress' | 'failed' | 'rejected';

/**
 * Announcements this process has seen settled ('sent' or 'rejected' rows never change again), so a
 * poll does not retry their claims (a refused insert and a read each, for every live watch, every
 * minute). Another instance learns the same from its first refused claim.
 */
const settledClaims = new WeakMap<Runtime, Map<string, 'already-sent' | 'rejected'>>();
const SETTLED_KEPT = 10_000;

function settled(runtime: Runtime): Map<string, 'already-sent' | 'rejected'> {
  let known = settledClaims.get(runtime);
  if (!known) {
    known = new Map();
    settledClaims.set(runtime, known);
  }
  return known;
}

function settle(runtime: Runtime, notice: WatchNotice, outcome: 'already-sent' | 'rejected'): void {
  const known = settled(runtime);
  if (known.size >= SETTLED_KEPT) known.clear();
  known.set(settledKey(notice), outcome);
}

const settledKey = (notice: WatchNotice): string => `${notice.watch.name}\u0001${notice.claimKey}`;

async function claim(
  runtime: Runtime,
  notice: WatchNotice,
): Promise<{ etag: string; attempts: number } | DeliveryOutcome> {
  const known = settled(runtime).get(settledKey(notice));
  if (known) return known;
  const table = await runtime.tables.table(watchMailTable);
  const now = runtime.clock.now();
  const key = { partitionKey: encodeKey(notice.watch.name), rowKey: notice.claimKey };
  const base = {
    ...key,
    claimedBy: runtime.instanceId,
    claimedAt: now.toISOString(),
    state: 'sending' as const,
  };
  const claimed = await claimOnce<MailRow>(table, key, {
    ...base,
    watch: notice.watch.name,
    set: notice.set,
    kind: notice.kind,
    environment: notice.environment,
    tenant: notice.tenant ?? '',
    ...jsonParts(watchMailTable, 'releases', notice.releases),
    attempts: 1,
  });
  if (claimed.mine) return { etag: claimed.etag, attempts: 1 };
  const row = claimed.holder;
  if (!row) return 'in-progress';
  if (row.state === 'sent' || row.state === 'rejected') {
    const outcome = row.state === 'sent' ? 'already-sent' : 'rejected';
    settle(runtime, notice, outcome);
    return outcome;
  }
  const stale = now.getTime() - new Date(row.claimedAt).getTime() > staleClaimMs;
  if (row.state === 'sending' && !stale) return 'in-progress';
  if (row.attempts >= maxSendAttempts) return 'rejected';
  const attempts = row.attempts + 1;
  const taken = await updateIfMatch(table, { ...base, attempts }, row.etag, 'Merge');
  return taken.ok ? { etag: taken.etag, attempts } : 'in-progress';
}

async function record(
  runtime: Runtime,
  notice: WatchNotice,
  etag: string,
  fields: Partial<MailRow>,
): Promise<void> {
  const table = await runtime.tables.table(watchMailTable);
  await updateIfMatch(
    table,
    { partitionKey: encodeKey(notice.watch.name), rowKey: notice.claimKey, ...fields },
    etag,
    'Merge',
  );
}

/**
 * Where this announcement stands (undefined: never claimed, so it is new). One read, none for an
 * announcement this process has seen settled (sent or refused rows never change again).
 */
export async function claimState(
  runtime: Runtime,
  notice: WatchNotice,
): Promise<MailState | undefined> {
  const known = settled(runtime).get(settledKey(notice));
  if (known) return known === 'already-sent' ? 'sent' : 'rejected';
  const table = await runtime.tables.table(watchMailTable);
  const row = await getOrUndefined<MailRow>(table, encodeKey(notice.watch.name), notice.claimKey);
  if (row?.state === 'sent') settle(runtime, notice, 'already-sent');
  else if (row?.state === 'rejected') settle(runtime, notice, 'rejected');
  return row?.state;
}

/**
 * Who started the deployments of these notices: one `deployments?ids=` read per space for all of
 * them (100 ids a call), not one per notice; an unreadable answer leaves "unknown" in the emails.
 */
async function deployedBy(
  runtime: Runtime,
  notices: readonly WatchNotice[],
  log: Log,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const bySpace = new Map<string, WatchNotice[]>();
  for (const notice of notices) {
    const space = spaceOfSet(runtime, notice.set);
    bySpace.set(space, [...(bySpace.get(space) ?? []), notice]);
  }
  for (const [space, mine] of bySpace) {
    const client = octopusForSpace(runtime, space);
    if (!client) continue;
    try {
      const deployments = await client.deployments.getMany(
        mine.flatMap((n) => n.releases.map((r) => r.deploymentId)),
      );
      for (const d of deployments) if (d.DeployedBy) out.set(d.Id, d.DeployedBy);
    } catch (err) {
      log.warn(
        `Could not read who started the deployments for watch${mine.length === 1 ? '' : 'es'} ${[...new Set(mine.map((n) => n.watch.name))].join(', ')}: ${(err as Error).message}`,
      );
    }
  }
  return out;
}

/** Claim, send and record one announcement. Safe to call from any number of places at once. */
export async function deliverNotice(
  runtime: Runtime,
  notice: WatchNotice,
  log: Log,
): Promise<DeliveryOutcome> {
  const [outcome] = await deliverNotices(runtime, [notice], log);
  return outcome ?? 'in-progress';
}

/**
 * Claim each announcement, read who started the claimed ones in one go, then send and record each.
 * Outcomes in the order of `notices`.
 */
export async function deliverNotices(
  runtime: Runtime,
  notices: readonly WatchNotice[],
  log: Log,
): Promise<DeliveryOutcome[]> {
  const outcomes: DeliveryOutcome[] = [];
  const claimed: { index: number; notice: WatchNotice; etag: string; attempts: number }[] = [];
  for (const [index, notice] of notices.entries()) {
    const result = await claim(runtime, notice);
    if (typeof result === 'string') outcomes[index] = result;
    else claimed.push({ index, notice, ...result });
  }
  if (claimed.length === 0) return outcomes;
  const who = await deployedBy(
    runtime,
    claimed.map((c) => c.notice),
    log,
  );
  for (const c of claimed) outcomes[c.index] = await send(runtime, c.notice, c, who, log);
  return outcomes;
}

async function send(
  runtime: Runtime,
  notice: WatchNotice,
  claimed: { etag: string; attempts: number },
  who: Map<string, string>,
  log: Log,
): Promise<DeliveryOutcome> {
  const message = watchMessage(notice, {
    deployedBy: who,
    taskUrl: (spaceId, taskId) => taskWebUrl(runtime, spaceId, taskId),
    statusUrl: statusPageUrl(runtime.settings.publicUrl, notice.set),
    timeZone: runtime.settings.report.timeZone,
  });
  try {
    const sent = await runtime.mailer.send(message);
    await record(runtime, notice, claimed.etag, {
      state: 'sent',
      sentAt: runtime.clock.now().toISOString(),
      messageId: sent.id,
    });
    settle(runtime, notice, 'already-sent');
    log.info(
      `Watch ${notice.watch.name}: sent "${message.subject}" to ${message.to.length} recipient(s).`,
    );
    return 'sent';
  } catch (err) {
    const permanent = err instanceof MailError && !err.retryable;
    const error = (err as Error).message;
    await record(runtime, notice, claimed.etag, {
      state: permanent ? 'rejected' : 'failed',
      lastError: error.slice(0, 4000),
    });
    if (permanent) settle(runtime, notice, 'rejected');
    log.error(
      permanent
        ? `Watch ${notice.watch.name}: the mail service refused "${message.subject}" (${error}); fix the recipients or MAIL_FROM; it is not retried.`
        : `Watch ${notice.watch.name}: sending "${message.subject}" failed (${error}); it is retried on the next status poll (attempt ${claimed.attempts} of ${maxSendAttempts}).`,
    );
    return permanent ? 'rejected' : 'failed';
  }
}

export interface LastNotification {
  watch: string;
  environment: string;
  tenant: string | null;
  at: string;
  releases: { project: string; version: string; tenant: string | null }[];
}

/** The latest "set is live" email sent by each watch, per environment and tenant. */
export async function lastNotifications(
  runtime: Runtime,
  watchNames: readonly string[],
): Promise<LastNotification[]> {
  const table = await runtime.tables.table(watchMailTable);
  const latest = new Map<string, LastNotification>();
  // One partition per watch, read in parallel (the status view waits for all of them).
  const partitions = await Promise.all(
    watchNames.map(async (name) => ({
      name,
      rows: await listPartition<MailRow>(table, encodeKey(name)),
    })),
  );
  for (const { name, rows } of partitions) {
    for (const row of rows) {
      if (row.kind !== 'live' || row.state !== 'sent' || !row.sentAt) continue;
      const key = `${name}\u0001${row.environment.toLowerCase()}\u0001${row.tenant}`;
      const prior = latest.get(key);
      if (prior && prior.at >= row.sentAt) continue;
      const releases = fromJsonParts<{ project: string; version: string; tenant: string | null }[]>(
        row,
        'releases',
      ).map((r) => ({
        project: r.project,
        version: r.version,
        tenant: r.tenant,
      }));
      latest.set(key, {
        watch: name,
        environment: row.environment,
        tenant: row.tenant || null,
        at: row.sentAt,
        releases,
      });
    }
  }
  return [...latest.values()];
}
