// The Mailer port: what jobs need from email, whichever adapter sends it.

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** A short tag for the kind of email ("daily-report", "set-deployed"), for filtering. */
  category?: string;
}

export interface SentMail {
  /** The provider's message id, or the outbox file name. */
  id: string;
}

export interface Mailer {
  readonly kind: 'sendgrid' | 'outbox';
  /** Where mail goes, for health output and the start banner (never a key). */
  describe(): string;
  send(message: MailMessage): Promise<SentMail>;
}

/** A failed send. `retryable` is true for 429 and 5xx and network errors; other 4xx are not. */
export class MailError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'MailError';
  }
}

export function assertSendable(message: MailMessage): void {
  if (message.to.length === 0)
    throw new MailError('An email needs at least one recipient.', undefined, false);
  if (message.to.length > 1000) {
    throw new MailError(
      `An email may go to at most 1000 recipients; this one has ${message.to.length}.`,
      undefined,
      false,
    );
  }
}
