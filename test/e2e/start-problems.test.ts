// `npm start` with what a new user has: local.settings.json copied from the example, or a busy port.
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDevDefaults, devWebhookSecret } from '../../dev/devHost.js';
import { isListening, startDevHostProcess, waitForExit } from '../helpers/devHostProcess.js';

describe('dev host defaults', () => {
  it('treats the empty values of local.settings.example.json as unset', () => {
    const env: NodeJS.ProcessEnv = {
      WEBHOOK_SECRET: '',
      COORDINATION_CONFIG: '',
      DAILY_REPORT_SCHEDULE: '',
      STATUS_POLL_SCHEDULE: ' ',
      SENDGRID_API_KEY: '',
      MAIL_OUTBOX_DIR: '',
    };
    const appRoot = resolve('test/fixtures/no-such-app');
    applyDevDefaults(env, appRoot, () => {});
    expect(env.WEBHOOK_SECRET).toBe(devWebhookSecret);
    expect(env.COORDINATION_CONFIG).toBe(resolve(appRoot, 'coordination.example.json'));
    expect(env.DAILY_REPORT_SCHEDULE).toBe('0 0 * * * *');
    expect(env.STATUS_POLL_SCHEDULE).toBe('0 * * * * *');
    expect(env.MAIL_OUTBOX_DIR).toBe(resolve(appRoot, 'outbox'));
  });

  it('keeps values that are set', () => {
    const env: NodeJS.ProcessEnv = { WEBHOOK_SECRET: 'mine', COORDINATION_CONFIG: 'my.json' };
    applyDevDefaults(env, resolve('.'), () => {});
    expect(env).toMatchObject({ WEBHOOK_SECRET: 'mine', COORDINATION_CONFIG: 'my.json' });
  });
});

describe('npm start on a busy port', () => {
  it('says the app port is busy and how to pick another, and leaves nothing running', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((r) =>
      blocker.listen(0, '127.0.0.1', () => {
        const address = blocker.address();
        r(typeof address === 'object' && address ? address.port : 0);
      }),
    );
    try {
      const dev = await startDevHostProcess({ waitForHealth: false, env: { PORT: String(port) } });
      const code = await waitForExit(dev.child);
      expect(code).toBe(1);
      expect(dev.output()).toContain(`Port ${port} is busy`);
      expect(dev.output()).toContain('set PORT');
      expect(dev.output()).not.toMatch(/\n\s+at /);
      expect(await isListening(dev.ports.azurite)).toBe(false);
      expect(await isListening(dev.ports.simulator)).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
