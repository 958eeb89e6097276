// App settings: read once from the environment into a typed, validated object.
import { isTimeZone } from '../time/zones.js';
import { z } from 'zod';
import { defaultMaxRequestsPerMinute } from '../octopus/budget.js';
import { redactSecrets as redact } from '../redact.js';

/** Defaults for settings that have one. The dev host and the Bicep template use the same values. */
export const settingDefaults = {
  OCTOPUS_SPACE: 'Default',
  WEBHOOK_SECRET_HEADER: 'X-Coordinator-Secret',
  COORDINATION_CONFIG: 'coordination.json',
  DAILY_REPORT_SCHEDULE: '0 0 * * * *',
  REPORT_TIME_ZONE: 'UTC',
  REPORT_SEND_TIME: '07:00',
  STATUS_POLL_SCHEDULE: '0 * * * * *',
  CATCH_UP_WINDOW_MINUTES: '60',
  PORT: '7071',
} as const;

/** Settings that hold secrets: never logged, never echoed, redacted from error text. */
export const secretSettingNames = [
  'OCTOPUS_API_KEY',
  'SENDGRID_API_KEY',
  'WEBHOOK_SECRET',
  'COORDINATOR_APPROVAL_KEY',
  'COORDINATOR_ADMIN_KEY',
] as const;

const keyVaultReference = /^@Microsoft\.KeyVault\(/i;

/** True when a setting's value is a Key Vault reference the platform has not resolved (yet). */
export function isUnresolvedKeyVaultReference(value: string | undefined): boolean {
  return value !== undefined && keyVaultReference.test(value.trim());
}

export type SecretSettingName = (typeof secretSettingNames)[number];

/** A secret setting whose Key Vault reference is not resolved: what it is and what to check. */
export interface UnresolvedSetting {
  setting: SecretSettingName;
  /** Vault and secret named in the reference (names, never values). */
  vault?: string;
  secret?: string;
  check: string;
}

function describeUnresolved(setting: SecretSettingName, reference: string): UnresolvedSetting {
  const text = reference.trim();
  const vault =
    /VaultName=([^;)]+)/i.exec(text)?.[1] ?? /https:\/\/([^./]+)\.vault\./i.exec(text)?.[1];
  const secret = /SecretName=([^;)]+)/i.exec(text)?.[1] ?? /\/secrets\/([^/)]+)/i.exec(text)?.[1];
  const where = `${secret ? `secret ${secret}` : 'the secret'}${vault ? ` in Key Vault ${vault}` : ''}`;
  return {
    setting,
    ...(vault ? { vault } : {}),
    ...(secret ? { secret } : {}),
    check: `${setting} is an unresolved Key Vault reference: check that ${where} exists and is enabled, and that the app's managed identity has the Key Vault Secrets User role on the vault; then refresh the references (azd provision does) or wait for the platform, which retries within 24 hours`,
  };
}

const optionalText = z
  .string()
  .transform((v) => v.trim())
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const settingsSchema = z.object({
  AzureWebJobsStorage: optionalText,
  AzureWebJobsStorage__accountName: optionalText,
  AzureWebJobsStorage__tableServiceUri: optionalText,
  AzureWebJobsStorage__queueServiceUri: optionalText,
  AzureWebJobsStorage__clientId: optionalText,
  OCTOPUS_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  OCTOPUS_API_KEY: optionalText,
  OCTOPUS_SPACE: optionalText.transform((v) => v ?? settingDefaults.OCTOPUS_SPACE),
  /** The coordinator's own Octopus request budget; 0 = none. Default defaultMaxRequestsPerMinute. */
  OCTOPUS_MAX_REQUESTS_PER_MINUTE: optionalText.pipe(
    z.coerce.number<string>().int().min(0).max(100_000).optional(),
  ),
  WEBHOOK_SECRET: optionalText,
  WEBHOOK_SECRET_HEADER: optionalText
    .transform((v) => v ?? settingDefaults.WEBHOOK_SECRET_HEADER)
    .pipe(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name (letters, digits, -)')),
  SENDGRID_API_KEY: optionalText,
  /** The HMAC key that signs approval links (a Key Vault secret in Azure). */
  COORDINATOR_APPROVAL_KEY: optionalText.pipe(
    z
      .string()
      .min(32, 'must be at least 32 characters (openssl rand -hex 32 makes one)')
      .optional(),
  ),
  /** Operator actions (force-release of a lock) need it in `x-coordinator-admin-key`; unset = refused. */
  COORDINATOR_ADMIN_KEY: optionalText.pipe(
    z.string().min(16, 'must be at least 16 characters (a long random value)').optional(),
  ),
  SENDGRID_API_URL: optionalText.pipe(z.url().optional()),
  MAIL_FROM: optionalText.pipe(z.email('must be an email address').optional()),
  MAIL_OUTBOX_DIR: optionalText,
  COORDINATION_CONFIG: optionalText,
  DAILY_REPORT_SCHEDULE: optionalText.transform((v) => v ?? settingDefaults.DAILY_REPORT_SCHEDULE),
  REPORT_TIME_ZONE: optionalText
    .transform((v) => v ?? settingDefaults.REPORT_TIME_ZONE)
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin'),
  REPORT_SEND_TIME: optionalText
    .transform((v) => v ?? settingDefaults.REPORT_SEND_TIME)
    .pipe(z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time HH:MM')),
  STATUS_POLL_SCHEDULE: optionalText.transform((v) => v ?? settingDefaults.STATUS_POLL_SCHEDULE),
  CATCH_UP_WINDOW_MINUTES: optionalText
    .transform((v) => v ?? settingDefaults.CATCH_UP_WINDOW_MINUTES)
    .pipe(
      z.coerce
        .number<string>()
        .int()
        .min(0)
        .max(7 * 24 * 60),
    ),
  PUBLIC_URL: optionalText.pipe(z.url().optional()),
  PORT: optionalText
    .transform((v) => v ?? settingDefaults.PORT)
    .pipe(z.coerce.number<string>().int().min(0).max(65535)),
});

type ParsedSettings = z.output<typeof settingsSchema>;

/** Every app setting the code reads (the infra tests check the Bicep template sets them). */
export const settingNames = Object.keys(settingsSchema.shape);

/** The validated app settings. Storage is one of three forms; see `storage`. */
export interface Settings {
  storage:
    | { kind: 'connectionString'; connectionString: string }
    | { kind: 'identity'; tableServiceUri: string; clientId?: string }
    | { kind: 'none' };
  /** The queue service (webhook events are processed from a queue); 'none' when the storage has none. */
  queues:
    | { kind: 'connectionString'; connectionString: string }
    | { kind: 'identity'; queueServiceUri: string; clientId?: string }
    | { kind: 'none' };
  octopus: { url: string; apiKey: string; space: string; maxRequestsPerMinute: number } | undefined;
  /** The space to use when a config entry names none. */
  octopusSpace: string;
  webhook: { secret: string | undefined; header: string };
  /** The key that signs approval links; without it approvers decide through the API only. */
  approvalKey: string | undefined;
  /** The operators' key (force-release), distinct from the function key; undefined = not set. */
  adminKey: string | undefined;
  mail: {
    from: string;
    sendGridApiKey: string | undefined;
    sendGridApiUrl: string | undefined;
    outboxDir: string;
  };
  coordinationConfigPath: string;
  /** True when COORDINATION_CONFIG was set explicitly (a missing file is then an error). */
  coordinationConfigExplicit: boolean;
  schedules: { dailyReport: string; statusPoll: string };
  report: { timeZone: string; sendTime: string };
  catchUpWindowMinutes: number;
  publicUrl: string | undefined;
  port: number;
  /** Secret values, to be redacted from anything we print. */
  secrets: string[];
  /**
   * Secret settings whose Key Vault reference the platform has not resolved. The app still starts: they
   * count as unset, /api/health answers 503 naming them, and jobs that need them skip.
   */
  unresolved: UnresolvedSetting[];
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid app settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

/** Read and validate settings from an environment (process.env by default). */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const unresolved: UnresolvedSetting[] = [];
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = env[key];
    if (isUnresolvedKeyVaultReference(value)) {
      // A secret waits for the platform to resolve it (the app starts and says so); any other setting
      // held in Key Vault is a configuration error.
      if ((secretSettingNames as readonly string[]).includes(key))
        unresolved.push(describeUnresolved(key as SecretSettingName, value ?? ''));
      else
        problems.push(
          `${key} is an unresolved Key Vault reference: only ${secretSettingNames.join(', ')} come from Key Vault`,
        );
      continue;
    }
    input[key] = value;
  }
  if (problems.length > 0) throw new SettingsError(problems);

  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new SettingsError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'} ${i.message}`),
    );
  }
  const s = parsed.data;
  const pending = new Set<string>(unresolved.map((u) => u.setting));
  // Settings required together. One that waits for its Key Vault reference is not missing: it is
  // reported as unresolved instead.
  if (s.OCTOPUS_URL && !s.OCTOPUS_API_KEY && !pending.has('OCTOPUS_API_KEY'))
    problems.push(
      'OCTOPUS_API_KEY is required when OCTOPUS_URL is set (an API key of a service account)',
    );
  if (s.SENDGRID_API_KEY && !s.MAIL_FROM)
    problems.push('MAIL_FROM is required when SENDGRID_API_KEY is set (a verified sender address)');
  if (problems.length > 0) throw new SettingsError(problems);
  return { ...toSettings(s), unresolved };
}

function toSettings(s: ParsedSettings): Omit<Settings, 'unresolved'> {
  const accountName = s.AzureWebJobsStorage__accountName;
  let storage: Settings['storage'] = { kind: 'none' };
  if (s.AzureWebJobsStorage) {
    storage = { kind: 'connectionString', connectionString: s.AzureWebJobsStorage };
  } else if (s.AzureWebJobsStorage__tableServiceUri || accountName) {
    storage = {
      kind: 'identity',
      tableServiceUri:
        s.AzureWebJobsStorage__tableServiceUri ?? `https://${accountName}.table.core.windows.net`,
      ...(s.AzureWebJobsStorage__clientId ? { clientId: s.AzureWebJobsStorage__clientId } : {}),
    };
  }
  let queues: Settings['queues'] = { kind: 'none' };
  const conn = s.AzureWebJobsStorage;
  if (conn) {
    // A connection string reaches queues when it names a queue endpoint, is development storage, or
    // names an account (the endpoint is then derived, as the SDK does). A table-only one does not.
    const explicitEndpoints = /(^|;)\s*\w+Endpoint=/i.test(conn);
    if (
      /(^|;)\s*(QueueEndpoint=|UseDevelopmentStorage=true)/i.test(conn) ||
      (!explicitEndpoints && /(^|;)\s*AccountName=/i.test(conn))
    )
      queues = { kind: 'connectionString', connectionString: conn };
  } else if (s.AzureWebJobsStorage__queueServiceUri || accountName) {
    queues = {
      kind: 'identity',
      queueServiceUri:
        s.AzureWebJobsStorage__queueServiceUri ?? `https://${accountName}.queue.core.windows.net`,
      ...(s.AzureWebJobsStorage__clientId ? { clientId: s.AzureWebJobsStorage__clientId } : {}),
    };
  }
  // The storage account key inside a connection string is a secret too (identity-based storage has none).
  const accountKey = /AccountKey=([^;]+)/i.exec(s.AzureWebJobsStorage ?? '')?.[1];
  const secrets = [
    s.OCTOPUS_API_KEY,
    s.SENDGRID_API_KEY,
    s.WEBHOOK_SECRET,
    s.COORDINATOR_APPROVAL_KEY,
    s.COORDINATOR_ADMIN_KEY,
    accountKey,
  ].filter((v): v is string => typeof v === 'string' && v.length > 0);
  return {
    storage,
    queues,
    octopus:
      s.OCTOPUS_URL && s.OCTOPUS_API_KEY
        ? {
            url: s.OCTOPUS_URL.replace(/\/+$/, ''),
            apiKey: s.OCTOPUS_API_KEY,
            space: s.OCTOPUS_SPACE,
            maxRequestsPerMinute: s.OCTOPUS_MAX_REQUESTS_PER_MINUTE ?? defaultMaxRequestsPerMinute,
          }
        : undefined,
    octopusSpace: s.OCTOPUS_SPACE,
    webhook: { secret: s.WEBHOOK_SECRET, header: s.WEBHOOK_SECRET_HEADER },
    approvalKey: s.COORDINATOR_APPROVAL_KEY,
    adminKey: s.COORDINATOR_ADMIN_KEY,
    mail: {
      from: s.MAIL_FROM ?? 'coordinator@localhost',
      sendGridApiKey: s.SENDGRID_API_KEY,
      sendGridApiUrl: s.SENDGRID_API_URL,
      outboxDir: s.MAIL_OUTBOX_DIR ?? 'outbox',
    },
    coordinationConfigPath: s.COORDINATION_CONFIG ?? settingDefaults.COORDINATION_CONFIG,
    coordinationConfigExplicit: s.COORDINATION_CONFIG !== undefined,
    schedules: { dailyReport: s.DAILY_REPORT_SCHEDULE, statusPoll: s.STATUS_POLL_SCHEDULE },
    report: { timeZone: s.REPORT_TIME_ZONE, sendTime: s.REPORT_SEND_TIME },
    catchUpWindowMinutes: s.CATCH_UP_WINDOW_MINUTES,
    publicUrl: s.PUBLIC_URL,
    port: s.PORT,
    secrets,
  };
}

/** Replace every secret value (and anything shaped like an Octopus API key) with `***`: shared/redact.ts. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return redact(text, secrets, '***');
}
