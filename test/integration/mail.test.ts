import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer } from '../../shared/mail/createMailer.js';
import { MailError } from '../../shared/mail/mailer.js';
import { OutboxMailer } from '../../shared/mail/outboxMailer.js';
import { SendGridMailer } from '../../shared/mail/sendGridMailer.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';

describe('SendGrid adapter (real SDK against a local mail/send server)', () => {
  let fake: FakeSendGrid;
  let mailer: SendGridMailer;
  beforeAll(async () => {
    fake = await startFakeSendGrid();
    mailer = new SendGridMailer({
      apiKey: 'SG.test-key',
      from: 'coordinator@example.com',
      baseUrl: fake.url,
    });
  });
  afterAll(() => fake.stop());

  it('sends one personalization per recipient with text and HTML parts', async () => {
    const sent = await mailer.send({
      to: ['a@example.com', 'b@example.com'],
      subject: 'Web stack is live in Production',
      text: 'All three projects are live.',
      html: '<p>All three projects are live.</p>',
      category: 'set-deployed',
    });
    expect(sent.id).toMatch(/^fake-/);
    const mail = fake.received.at(-1);
    expect(mail?.authorization).toBe('Bearer SG.test-key');
    expect(mail?.body.from.email).toBe('coordinator@example.com');
    expect(mail?.body.personalizations.map((p) => p.to[0]?.email)).toEqual([
      'a@example.com',
      'b@example.com',
    ]);
    expect(mail?.body.content.map((c) => c.type)).toEqual(['text/plain', 'text/html']);
    expect(mail?.body.categories).toEqual(['set-deployed']);
  });

  it('turns a 5xx into a retryable MailError and a 400 into a final one, without the key', async () => {
    fake.failNext(503);
    const err5 = await mailer
      .send({ to: ['a@example.com'], subject: 's', text: 't' })
      .catch((e: unknown) => e);
    expect(err5).toBeInstanceOf(MailError);
    expect((err5 as MailError).status).toBe(503);
    expect((err5 as MailError).retryable).toBe(true);
    fake.failNext(400);
    const err4 = (await mailer
      .send({ to: ['a@example.com'], subject: 's', text: 't' })
      .catch((e: unknown) => e)) as MailError;
    expect(err4.retryable).toBe(false);
    expect(err4.message).toMatch(/HTTP 400 \(simulated failure 400\)/);
    expect(err4.message).not.toContain('SG.test-key');
  });

  it('is chosen when SENDGRID_API_KEY is set', () => {
    const chosen = createMailer({
      from: 'x@example.com',
      sendGridApiKey: 'k',
      sendGridApiUrl: fake.url,
      outboxDir: 'outbox',
    });
    expect(chosen.kind).toBe('sendgrid');
  });
});

/** RFC 2045 quoted-printable back to text, as a mail client reads it. */
function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

describe('outbox adapter', () => {
  it('writes text parts as quoted-printable: readable in a terminal, lines of at most 76', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const text = `Every project of the set Web stack is live in Zürich — ${'a long line '.repeat(12)}= done \nsecond line  `;
    const htmlPart = `<!DOCTYPE html><p style="color:#222">Zürich ${'x'.repeat(200)}</p>`;
    await new OutboxMailer(dir, 'coordinator@localhost').send({
      to: ['a@example.com'],
      subject: 's',
      text,
      html: htmlPart,
    });
    const eml = await readFile(join(dir, (await readdir(dir)).sort()[0] ?? ''), 'utf8');
    expect(eml).not.toContain('base64');
    expect(eml.match(/Content-Transfer-Encoding: quoted-printable/g)).toHaveLength(2);
    // The plain words are there as they are, not encoded.
    expect(eml).toContain('Every project of the set Web stack is live in Z=C3=BCrich');
    const body = eml.slice(eml.indexOf('\r\n\r\n'));
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    const parts = eml.split(/--=_coordinator_[^\r]*\r\n/).slice(1, 3);
    const bodies = parts.map((p) => p.slice(p.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''));
    expect(decodeQuotedPrintable(bodies[0] ?? '')).toBe(text.replace(/\n/g, '\r\n'));
    expect(decodeQuotedPrintable(bodies[1] ?? '')).toBe(htmlPart);
  });

  it('writes each email as .eml and .html', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const mailer = new OutboxMailer(dir, 'coordinator@localhost');
    await mailer.send({
      to: ['a@example.com'],
      subject: 'Ünïcode subject',
      text: 'plain',
      html: '<b>html</b>',
      category: 'test',
    });
    const files = (await readdir(dir)).sort();
    expect(files.map((f) => f.split('.').pop())).toEqual(['eml', 'html']);
    const eml = await readFile(join(dir, files[0] ?? ''), 'utf8');
    expect(eml).toMatch(
      /^From: coordinator@localhost\r\nTo: a@example.com\r\nSubject: =\?UTF-8\?B\?/,
    );
    expect(eml).toContain('Content-Type: multipart/alternative');
    expect(await readFile(join(dir, files[1] ?? ''), 'utf8')).toBe('<b>html</b>');
    expect(
      createMailer({
        from: 'x@example.com',
        sendGridApiKey: undefined,
        sendGridApiUrl: undefined,
        outboxDir: dir,
      }).kind,
    ).toBe('outbox');
  });
});
