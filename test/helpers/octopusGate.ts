// A pass-through in front of the Octopus simulator (or Azurite) for one coordinator instance, so that
// a test knows which instance makes which call and can stop one at a chosen call: every request is
// forwarded as it is, unless `decide` (set by the test) answers
// - 'drop': it never reaches Octopus and its connection is closed (as when the process that sent it
//   dies mid-call);
// - 'forward then drop': it reaches Octopus, which acts on it and answers, but the answer is lost:
//   `answerLost` (if set) runs, then the client's connection is destroyed without an answer (as when
//   Octopus created a deployment and the connection broke, or the sender died, before the answer).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type GateDecision = 'forward' | 'drop' | 'forward then drop';

export interface OctopusGate {
  url: string;
  /** Asked about each request before it is forwarded; may take its time (the request waits). */
  decide?: (request: {
    method: string;
    path: string;
    /** The request body as text (a storage batch names its table only there). */
    body: string;
  }) => Promise<GateDecision> | GateDecision;
  /**
   * For 'forward then drop': runs once Octopus has answered, before the client's connection is
   * destroyed (the gate waits for it), e.g. to kill the client so that it never hears of the call.
   */
  answerLost?: (lost: {
    method: string;
    path: string;
    status: number;
    /** The answer's body as text. */
    body: string;
  }) => Promise<void> | void;
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
      const decision = gate.decide
        ? await gate.decide({ method, path, body: body.toString('utf8') })
        : 'forward';
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
      if (decision === 'forward then drop') {
        await gate.answerLost?.({
          method,
          path,
          status: answer.status,
          body: out.toString('utf8'),
        });
        request.socket.destroy();
        return;
      }
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
