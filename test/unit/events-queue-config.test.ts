// The events queue's settings live in three places that must agree: host.json (the host's retries),
// the trigger registrations (functions/octopusEventsQueue.ts) and the code that sends
// (shared/events/queue.ts). And every HTTP function reads its body through the one reader.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  eventsMaxDequeueCount,
  eventsPoisonQueueName,
  eventsQueueName,
  maxMessageJsonBytes,
} from '../../shared/events/queue.js';
import { validQueueName } from '../../shared/storage/queueStore.js';
import { queuesOptionsFrom, timeSpanMs } from '../../dev/queueListener.js';

const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
  extensions: { queues: Record<string, unknown> };
};

describe('the events queue configuration', () => {
  it('host.json retries as the code expects, base64 encoded', () => {
    const q = queuesOptionsFrom(hostJson.extensions.queues);
    expect(q.maxDequeueCount).toBe(eventsMaxDequeueCount);
    expect(q.messageEncoding).toBe('base64');
    expect(q.maxPollingIntervalMs).toBeLessThanOrEqual(1000);
  });

  it('the triggers listen to the queues the code sends to, and the names are valid', () => {
    const source = readFileSync('functions/octopusEventsQueue.ts', 'utf8');
    const names = [...source.matchAll(/queueName:\s*'([^']+)'/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([eventsQueueName, eventsPoisonQueueName].sort());
    for (const n of names) expect(validQueueName(n ?? '')).toBe(true);
  });

  it('a full message stays under 64 KiB once base64-encoded', () => {
    expect(Math.ceil((maxMessageJsonBytes + 32) / 3) * 4).toBeLessThanOrEqual(64 * 1024);
  });

  it('reads host.json time spans as the host does', () => {
    expect(timeSpanMs('00:00:00.500')).toBe(500);
    expect(timeSpanMs('00:01:00')).toBe(60_000);
    expect(timeSpanMs('1.00:00:00')).toBe(86_400_000);
  });
});

describe('request bodies', () => {
  it('every function reads its body through shared/http/body.ts (the limit applies while streaming)', () => {
    const files = [
      ...readdirSync('functions').map((f) => join('functions', f)),
      ...readdirSync('shared', { recursive: true, encoding: 'utf8' }).map((f) => join('shared', f)),
    ].filter((f) => f.endsWith('.ts') && f !== join('shared', 'http', 'body.ts'));
    const offenders = files.filter((f) =>
      /\b(request|req)\.(json|text|arrayBuffer|formData|blob)\(\)|\brequest\.body\b/.test(
        readFileSync(f, 'utf8'),
      ),
    );
    expect(offenders).toEqual([]);
    expect(readFileSync('functions/appSetup.ts', 'utf8')).toMatch(
      /app\.setup\(\{\s*enableHttpStream:\s*true\s*\}\)/,
    );
  });
});
