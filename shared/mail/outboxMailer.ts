// Mail into a folder: each email as an .eml (MIME, opens in any mail client, and readable with
// `less` since its parts are quoted-printable) and an .html file.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { escapeHtml } from '../html/html.js';
import { assertSendable, type Mailer, type MailMessage, type SentMail } from './mailer.js';

function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/**
 * Quoted-printable (RFC 2045 6.7) of UTF-8 text with CRLF line breaks: ASCII stays readable in a
 * terminal, other bytes become =XX, long lines get soft breaks (=) at 76 characters.
 */
export function quotedPrintable(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      const tokens: string[] = [];
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const printable = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        tokens.push(
          printable ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`,
        );
      });
      const out: string[] = [];
      let current = '';
      for (const token of tokens) {
        if (current.length + token.length > 75) {
          out.push(`${current}=`);
          current = '';
        }
        current += token;
      }
      out.push(current);
      return out.join('\r\n');
    })
    .join('\r\n');
}

/** Render a message as RFC 5322 text with a multipart/alternative body. */
export function toEml(message: MailMessage, from: string, date: Date, id: string): string {
  const boundary = `=_coordinator_${id}`;
  const headers = [
    `From: ${from}`,
    `To: ${message.to.join(', ')}`,
    `Subject: ${encodeHeader(message.subject)}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${id}@octopus-coordinator>`,
    'MIME-Version: 1.0',
  ];
  const parts = [{ type: 'text/plain', body: message.text }];
  if (message.html) parts.push({ type: 'text/html', body: message.html });
  return [
    ...headers,
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    ...parts.flatMap((p) => [
      `--${boundary}`,
      `Content-Type: ${p.type}; charset=utf-8`,
      'Content-Transfer-Encoding: quoted-printable',
      '',
      quotedPrintable(p.body),
    ]),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

export class OutboxMailer implements Mailer {
  readonly kind = 'outbox' as const;
  readonly dir: string;

  constructor(
    dir: string,
    private readonly from: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.dir = resolve(dir);
  }

  describe(): string {
    return `outbox folder ${this.dir}`;
  }

  async send(message: MailMessage): Promise<SentMail> {
    assertSendable(message);
    await mkdir(this.dir, { recursive: true });
    const date = this.now();
    const id = `${date.toISOString().replace(/[:.]/g, '-')}-${message.category ?? 'mail'}-${randomUUID().slice(0, 8)}`;
    await writeFile(resolve(this.dir, `${id}.eml`), toEml(message, this.from, date, id));
    const html = message.html ?? `<pre>${escapeHtml(message.text)}</pre>`;
    await writeFile(resolve(this.dir, `${id}.html`), html);
    return { id };
  }
}
