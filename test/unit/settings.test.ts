import { describe, expect, it } from 'vitest';
import { loadSettings, redactSecrets, SettingsError } from '../../shared/config/settings.js';

describe('app settings', () => {
  it('applies the documented defaults when nothing is set', () => {
    const s = loadSettings({});
    expect(s.octopusSpace).toBe('Default');
    expect(s.webhook.header).toBe('X-Coordinator-Secret');
    expect(s.coordinationConfigPath).toBe('coordination.json');
    expect(s.coordinationConfigExplicit).toBe(false);
    expect(s.report.timeZone).toBe('UTC');
    expect(s.port).toBe(7071);
    expect(s.storage).toEqual({ kind: 'none' });
    expect(s.octopus).toBeUndefined();
  });

  it('chooses identity-based storage from AzureWebJobsStorage__accountName', () => {
    const s = loadSettings({ AzureWebJobsStorage__accountName: 'coordst' });
    expect(s.storage).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://coordst.table.core.windows.net',
    });
  });

  it('starts with an unresolved Key Vault secret: counts it as unset and says what to check', () => {
    const env = {
      OCTOPUS_URL: 'https://octopus.example.com',
      OCTOPUS_API_KEY:
        '@Microsoft.KeyVault(SecretUri=https://kv-abc.vault.azure.net/secrets/octopus-api-key/)',
      WEBHOOK_SECRET: '@Microsoft.KeyVault(VaultName=kv-abc;SecretName=webhook-secret)',
    };
    const s = loadSettings(env);
    expect(s.octopus).toBeUndefined();
    expect(s.webhook.secret).toBeUndefined();
    expect(s.unresolved.map((u) => [u.setting, u.vault, u.secret])).toEqual([
      ['OCTOPUS_API_KEY', 'kv-abc', 'octopus-api-key'],
      ['WEBHOOK_SECRET', 'kv-abc', 'webhook-secret'],
    ]);
    expect(s.unresolved[0]?.check).toMatch(/Key Vault Secrets User/);
    expect(s.unresolved[0]?.check).toMatch(/secret octopus-api-key in Key Vault kv-abc/);
    expect(s.secrets.join()).not.toMatch(/KeyVault/);
  });

  it('refuses a Key Vault reference in a setting that is not a secret, naming it', () => {
    expect(() =>
      loadSettings({ MAIL_FROM: '@Microsoft.KeyVault(VaultName=kv;SecretName=mail-from)' }),
    ).toThrow(/MAIL_FROM is an unresolved Key Vault reference/);
  });

  it('lists every bad setting at once', () => {
    try {
      loadSettings({ OCTOPUS_URL: 'not a url', REPORT_TIME_ZONE: 'Mars/Olympus', PORT: 'eighty' });
      expect.unreachable();
    } catch (err) {
      const problems = (err as SettingsError).problems.join('\n');
      expect(problems).toMatch(/OCTOPUS_URL/);
      expect(problems).toMatch(/REPORT_TIME_ZONE must be an IANA time zone/);
      expect(problems).toMatch(/PORT/);
    }
  });

  it('requires an API key with an Octopus URL, without echoing any secret', () => {
    expect(() => loadSettings({ OCTOPUS_URL: 'https://octopus.example.com' })).toThrow(
      /OCTOPUS_API_KEY is required/,
    );
  });

  it('redacts secret values from text', () => {
    const s = loadSettings({
      OCTOPUS_URL: 'https://o.example.com',
      OCTOPUS_API_KEY: 'API-SECRET1234',
      WEBHOOK_SECRET: 'hook-secret',
    });
    expect(redactSecrets('key API-SECRET1234 and hook-secret here', s.secrets)).toBe(
      'key *** and *** here',
    );
  });

  it('treats the account key of a storage connection string as a secret', () => {
    const s = loadSettings({
      AzureWebJobsStorage:
        'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5PT0=;EndpointSuffix=core.windows.net',
    });
    expect(redactSecrets('failed: AccountKey=c2VjcmV0a2V5PT0=;', s.secrets)).toBe(
      'failed: AccountKey=***;',
    );
  });
});
