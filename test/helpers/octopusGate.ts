// A pass-through in front of the Octopus simulator for one coordinator instance, so that a test
// knows which instance makes which call and can stop one at a chosen call: every request is forwarded
// as it is, unless `decide` (set by the test) answers 'drop' for it, in which case it never reaches
// Octopus and its connection is closed (as when the process that sent it dies mid-call).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type GateDecision = 'forward' | 'drop';

export interface OctopusGate {
  url: string;
  /** Asked about each request before it is forwarded; may take its time (the request waits). */
  decide?: (request: { method: string; path: string }) => Promise<GateDecision> | GateDecision;
  stop(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startOctopusGate(target: string): Promise<OctopusGate> {
  const gate: OctopusGate = { url: '', stop: () => Promise.resolve() };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const method = request.method ?? 'GET';
      const path = request.url ?? '/';
      const body = await readBody(request);
      const decision = gate.decide ? await gate.decide({ method, path }) : 'forward';
      if (decision === 'drop') {
        request.socket.destroy();
        return;
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (value === undefined || ['host', 'connection', 'content-length'].includes(name))
          continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const answer = await fetch(`${target}${path}`, {
        method,
        headers,
        ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
        redirect: 'manual',
      });
      const out = Buffer.from(await answer.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (
          !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)
        )
          outHeaders[name] = value;
      });
      response.writeHead(answer.status, outHeaders);
      response.end(out);
    })().catch(() => request.socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gate.stop = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return gate;
}
