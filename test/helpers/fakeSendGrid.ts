// A local HTTP server that speaks SendGrid's v3 mail/send, so tests exercise the real SDK.
import { createServer, type Server } from 'node:http';

export interface ReceivedMail {
  authorization: string | undefined;
  body: {
    from: { email: string };
    subject: string;
    personalizations: { to: { email: string }[] }[];
    content: { type: string; value: string }[];
    categories?: string[];
  };
}

export interface FakeSendGrid {
  url: string;
  received: ReceivedMail[];
  /** Answer the next `count` requests with this status (e.g. 500, 429, 400). */
  failNext(status: number, count?: number): void;
  stop(): Promise<void>;
}

export async function startFakeSendGrid(): Promise<FakeSendGrid> {
  const received: ReceivedMail[] = [];
  const failures: number[] = [];
  let counter = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v3/mail/send') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ message: 'not found' }] }));
        return;
      }
      const failure = failures.shift();
      if (failure !== undefined) {
        res.writeHead(failure, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            errors: [{ message: `simulated failure ${failure}`, field: null, help: null }],
          }),
        );
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedMail['body'];
      received.push({ authorization: req.headers.authorization, body });
      counter += 1;
      res.writeHead(202, { 'x-message-id': `fake-${counter}` }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    failNext(status, count = 1) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
