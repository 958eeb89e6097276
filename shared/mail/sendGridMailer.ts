// Mail through SendGrid's v3 API with the official SDK. Each recipient gets their own copy.
import type { Client } from '@sendgrid/client';
import type { MailService } from '@sendgrid/mail';
import {
  assertSendable,
  MailError,
  type Mailer,
  type MailMessage,
  type SentMail,
} from './mailer.js';

export interface SendGridOptions {
  apiKey: string;
  from: string;
  /** Only for tests and proxies: where the SDK sends requests (default https://api.sendgrid.com/). */
  baseUrl?: string;
}

interface SendGridErrorShape {
  code?: number;
  response?: { body?: { errors?: { message?: string; field?: string | null }[] } };
}

export class SendGridMailer implements Mailer {
  readonly kind = 'sendgrid' as const;
  private service: Promise<MailService> | undefined;

  constructor(private readonly options: SendGridOptions) {}

  describe(): string {
    return `SendGrid${this.options.baseUrl ? ` at ${this.options.baseUrl}` : ''}, from ${this.options.from}`;
  }

  private async getService(): Promise<MailService> {
    this.service ??= (async () => {
      // The SDK's typings declare only its singletons; the classes are exported at run time too (as
      // properties of the CommonJS exports, which an import sees as `default`). Loaded on the first
      // send, so the paths that never mail do not load the SDK (a chunk of its own in the bundle).
      const [mailModule, clientModule] = await Promise.all([
        import('@sendgrid/mail'),
        import('@sendgrid/client'),
      ]);
      const Service = (mailModule.default as unknown as { MailService: new () => MailService })
        .MailService;
      const ClientClass = (clientModule.default as unknown as { Client: new () => Client }).Client;
      const client = new ClientClass();
      client.setApiKey(this.options.apiKey);
      // setApiKey resets baseUrl, so the override must come after it.
      if (this.options.baseUrl) client.setDefaultRequest('baseUrl', this.options.baseUrl);
      const service = new Service();
      service.setClient(client);
      return service;
    })();
    return this.service;
  }

  async send(message: MailMessage): Promise<SentMail> {
    assertSendable(message);
    const service = await this.getService();
    const content: { type: string; value: string }[] = [
      { type: 'text/plain', value: message.text },
    ];
    if (message.html) content.push({ type: 'text/html', value: message.html });
    try {
      const [response] = await service.send(
        {
          from: this.options.from,
          subject: message.subject,
          personalizations: message.to.map((to) => ({ to: [{ email: to }] })),
          content: content as [{ type: string; value: string }],
          ...(message.category ? { categories: [message.category] } : {}),
        },
        false,
      );
      const id = response.headers['x-message-id'];
      return { id: typeof id === 'string' ? id : `sendgrid-${response.statusCode}` };
    } catch (err) {
      const e = err as SendGridErrorShape;
      const status = typeof e.code === 'number' ? e.code : undefined;
      const details = e.response?.body?.errors
        ?.map((x) => (x.field ? `${x.field}: ${x.message ?? ''}` : (x.message ?? '')))
        .join('; ');
      const retryable = status === undefined || status === 429 || status >= 500;
      const why =
        status === undefined
          ? (err as Error).message
          : `HTTP ${status}${details ? ` (${details})` : ''}`;
      // The service (or a proxy) may quote the key back; it never goes into an error.
      throw new MailError(
        redactKey(
          `SendGrid did not accept the email "${message.subject}": ${why}`,
          this.options.apiKey,
        ),
        status,
        retryable,
      );
    }
  }
}

/** Text without the SendGrid key, nor anything shaped like one (`SG.` and two base64url parts). */
function redactKey(text: string, apiKey: string): string {
  const withoutKey = apiKey.length >= 4 ? text.split(apiKey).join('[redacted]') : text;
  return withoutKey.replace(/SG\.[\w-]{16,}\.[\w-]{16,}/g, 'SG.[redacted]');
}
