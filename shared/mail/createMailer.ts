// Choose the mail adapter from settings: SendGrid when a key is set, else the outbox folder.
import type { Settings } from '../config/settings.js';
import type { Mailer } from './mailer.js';
import { OutboxMailer } from './outboxMailer.js';
import { SendGridMailer } from './sendGridMailer.js';

export function createMailer(mail: Settings['mail']): Mailer {
  if (mail.sendGridApiKey) {
    return new SendGridMailer({
      apiKey: mail.sendGridApiKey,
      from: mail.from,
      ...(mail.sendGridApiUrl ? { baseUrl: mail.sendGridApiUrl } : {}),
    });
  }
  return new OutboxMailer(mail.outboxDir, mail.from);
}
