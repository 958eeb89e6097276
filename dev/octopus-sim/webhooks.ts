// Subscriptions' webhooks as Octopus sends them: events gathered into batches on a fixed interval,
// one POST per event in EventNumberInBatch order, a duplicate after a timeout, the rest of a batch
// dropped after a failed POST.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { SimClock } from './clock.js';
import type { ClockParticipant } from './engine.js';
import type { FaultInjector } from './faults.js';
import { renderEvent } from './resources/events.js';
import { actualHeaderValue, renderSubscription } from './resources/subscriptions.js';
import type { EventRecord, SimState, SubscriptionRecord } from './store.js';
import { isoTime, parseTimeSpan } from './time.js';

export interface WebhookDelivery {
  subscriptionId: string;
  eventId: string;
  category: string;
  batchId: string;
  eventNumberInBatch: number;
  totalEventsInBatch: number;
  attempt: number;
  /** HTTP status, or "timeout" / "error" / "dropped" (fault) / "skipped" (after a failure in the batch). */
  outcome: number | 'timeout' | 'error' | 'dropped' | 'skipped';
}

interface Batch {
  subscription: SubscriptionRecord;
  events: EventRecord[];
  batchId: string;
  processedAt: number;
}

export class WebhookDispatcher implements ClockParticipant {
  readonly deliveries: WebhookDelivery[] = [];
  private lastBatchAt = Number.NEGATIVE_INFINITY;
  private chains = new Map<string, Promise<void>>();
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly state: () => SimState,
    private readonly clock: SimClock,
    private readonly faults: FaultInjector,
    private readonly serverUri: () => string,
    private readonly log: (line: string) => void,
  ) {}

  private pendingEvents(sub: SubscriptionRecord): EventRecord[] {
    return this.state().events.filter((e) => e.autoId > sub.lastProcessedEventAutoId);
  }

  nextDue(): number | undefined {
    const interval = this.state().webhookBatchIntervalMs;
    let earliest: number | undefined;
    for (const sub of this.state().subscriptions) {
      if (sub.isDisabled || !sub.webhookUri) continue;
      for (const event of this.pendingEvents(sub))
        if (earliest === undefined || event.occurred < earliest) earliest = event.occurred;
    }
    if (earliest === undefined) return undefined;
    const from = Math.max(earliest, this.lastBatchAt + 1);
    return Math.ceil(from / interval) * interval;
  }

  /** Gathers each subscription's new events into a batch and sends it (asynchronously). */
  process(at: number): void {
    this.lastBatchAt = at;
    for (const sub of this.state().subscriptions) {
      if (sub.isDisabled || !sub.webhookUri) continue;
      const pending = this.pendingEvents(sub).filter((e) => e.occurred <= at);
      if (pending.length === 0) continue;
      sub.lastProcessedEventAutoId = Math.max(...pending.map((e) => e.autoId));
      const matching = pending.filter((e) => matchesFilter(sub, e));
      if (matching.length === 0) continue;
      this.enqueue({ subscription: sub, events: matching, batchId: randomUUID(), processedAt: at });
    }
  }

  /** Resolves when every batch handed out so far has been sent. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  stop(): void {
    this.stopped = true;
  }

  private enqueue(batch: Batch): void {
    const previous = this.chains.get(batch.subscription.id) ?? Promise.resolve();
    const next = previous
      .then(() => this.send(batch))
      .catch((error: unknown) => this.log(`webhook batch failed: ${String(error)}`));
    this.chains.set(batch.subscription.id, next);
    this.inFlight.add(next);
    void next.finally(() => this.inFlight.delete(next));
  }

  private async send(batch: Batch): Promise<void> {
    const { subscription: sub, events } = batch;
    const timeoutMs = parseTimeSpan(sub.webhookTimeout) ?? 10_000;
    let failed = false;
    for (const [index, event] of events.entries()) {
      const record = (attempt: number, outcome: WebhookDelivery['outcome']): void => {
        this.deliveries.push({
          subscriptionId: sub.id,
          eventId: event.id,
          category: event.category,
          batchId: batch.batchId,
          eventNumberInBatch: index + 1,
          totalEventsInBatch: events.length,
          attempt,
          outcome,
        });
      };
      if (failed || this.stopped) {
        record(0, 'skipped');
        continue;
      }
      const body = JSON.stringify(this.payload(batch, event, index + 1));
      const fault = this.faults.takeWebhook(event.category);
      if (fault?.mode === 'drop') {
        record(0, 'dropped');
        continue;
      }
      if (fault?.mode === 'fail') {
        record(0, 'dropped');
        failed = true;
        continue;
      }
      // A POST that exceeds the timeout is sent once more (the duplicate Octopus is known for).
      let outcome = await this.post(sub, body, timeoutMs);
      record(1, outcome);
      if (fault?.mode === 'slow' && typeof outcome === 'number') outcome = 'timeout';
      if (outcome === 'timeout' || fault?.mode === 'duplicate') {
        outcome = await this.post(sub, body, timeoutMs);
        record(2, outcome);
      }
      if (typeof outcome !== 'number' || outcome < 200 || outcome > 299) {
        this.log(
          `webhook to ${sub.webhookUri} for ${event.id} failed (${outcome}); the rest of batch ${batch.batchId} is dropped`,
        );
        failed = true;
      }
    }
  }

  private payload(batch: Batch, event: EventRecord, number: number): Record<string, unknown> {
    const state = this.state();
    const serverUri = this.serverUri();
    const from = isoTime(Math.min(...batch.events.map((e) => e.occurred)));
    const to = isoTime(batch.processedAt);
    const categories = [...new Set(batch.events.map((e) => e.category))].join(',');
    return {
      Timestamp: isoTime(this.clock.now()),
      EventType: 'SubscriptionPayload',
      Payload: {
        ServerUri: serverUri,
        ServerAuditUri: `${serverUri}/app#/${state.space.id}/configuration/audit?eventCategories=${categories}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
        BatchProcessingDate: isoTime(batch.processedAt),
        BatchId: batch.batchId,
        TotalEventsInBatch: batch.events.length,
        EventNumberInBatch: number,
        Subscription: renderSubscription(batch.subscription, state, true),
        Event: renderEvent(event, state.space.id),
      },
    };
  }

  private post(
    sub: SubscriptionRecord,
    body: string,
    timeoutMs: number,
  ): Promise<number | 'timeout' | 'error'> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(sub.webhookUri);
      } catch {
        resolve('error');
        return;
      }
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
        'User-Agent': 'Octopus-Simulator',
      };
      const headerValue = actualHeaderValue(sub.webhookHeaderValue);
      if (sub.webhookHeaderKey && headerValue !== undefined)
        headers[sub.webhookHeaderKey] = headerValue;
      const client = url.protocol === 'https:' ? https : http;
      let settled = false;
      const done = (outcome: number | 'timeout' | 'error'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const request = client.request(url, { method: 'POST', headers }, (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode ?? 0));
        response.on('error', () => done('error'));
      });
      const timer = setTimeout(() => {
        done('timeout');
        request.destroy();
      }, timeoutMs);
      request.on('error', () => done('error'));
      request.end(body);
    });
  }
}

/** Filter arrays AND together; values inside one OR; empty arrays match everything. */
function matchesFilter(sub: SubscriptionRecord, event: EventRecord): boolean {
  const any = (name: string, test: (value: string) => boolean): boolean => {
    const values = sub.filter[name] ?? [];
    return values.length === 0 || values.some(test);
  };
  const related = (id: string): boolean => event.relatedDocumentIds.includes(id);
  return (
    any('EventCategories', (c) => c === event.category) &&
    any('Projects', related) &&
    any('Environments', related) &&
    any('Tenants', related) &&
    any('Users', (u) => u === event.userId)
  );
}
