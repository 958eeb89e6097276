// A local HTTP server standing in for a storage service in unit tests of the REST senders: it records
// every request and answers each with the next of a list of answers, or with what a function says.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Answer {
  status: number;
  /** Sent as x-ms-error-code. */
  code?: string;
  headers?: Record<string, string>;
  body?: string;
}

const servers = new Set<Server>();

/** Close every recorder started so far (for afterEach). */
export async function closeRecorders(): Promise<void> {
  const open = [...servers];
  servers.clear();
  await Promise.all(open.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

/**
 * Records requests; answers each with the next of `answers` (the last one again once they run out),
 * or what `answers` says for it.
 */
export async function recorder(
  answers: Answer[] | ((request: Seen, seen: Seen[]) => Answer),
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      const a =
        typeof answers === 'function'
          ? answers(request, seen)
          : (answers[Math.min(seen.length - 1, answers.length - 1)] ?? { status: 500 });
      res.writeHead(a.status, {
        ...(a.code ? { 'x-ms-error-code': a.code } : {}),
        ...(a.headers ?? {}),
      });
      res.end(a.body ?? '');
    });
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
