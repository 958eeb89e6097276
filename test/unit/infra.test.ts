// Structural checks of the Bicep text in infra/: that the template sets every app setting the code
// reads, keeps secrets in Key Vault, outputs no secret, uses storage only through the managed identity,
// grants the expected roles and turns off plain-text protocols. They run everywhere, also without the
// .NET SDK.
//
// Compilation, linting and the checks that are simpler on the compiled ARM JSON (runtime version,
// diagnostic settings, alerts, parameter types) are in infra-compiled.test.ts, which runs the real Bicep
// CLI. Neither can see whether a deployment succeeds, or RBAC propagation delays.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { secretSettingNames, settingDefaults, settingNames } from '../../shared/config/settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

const mainBicep = read('infra/main.bicep');
const moduleFiles = readdirSync(join(root, 'infra/modules')).filter((f) => f.endsWith('.bicep'));
const modules = new Map(moduleFiles.map((f) => [f, read(`infra/modules/${f}`)]));
const allBicep = [mainBicep, ...modules.values()].join('\n');

function tsFilesUnder(dir: string): string[] {
  const full = join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function moduleText(file: string): string {
  const text = modules.get(file);
  if (text === undefined) throw new Error(`infra/modules/${file} is missing`);
  return text;
}

/** Lines of Bicep with `//` comments removed (a `//` inside a string is rare enough to ignore here). */
function withoutComments(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/(^|\s)\/\/.*$/, ''))
    .join('\n');
}

/** The text of the `{ ... }` block that starts at the first `{` at or after `from`. */
function blockAfter(text: string, from: number): string {
  const open = text.indexOf('{', from);
  if (open < 0) throw new Error('no block found');
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}') depth--;
    if (depth === 0) return text.slice(open + 1, i);
  }
  throw new Error('unbalanced braces');
}

/**
 * The app settings the template writes: the `properties` object of the `sites/config` resource named
 * 'appsettings' (that resource replaces all settings, so it is the complete list).
 */
function appSettings(): Map<string, string> {
  const text = withoutComments(moduleText('appsettings.bicep'));
  const at = text.search(/name:\s*'appsettings'/);
  if (at < 0)
    throw new Error(
      "infra/modules/appsettings.bicep has no sites/config resource named 'appsettings'",
    );
  const properties = blockAfter(text, text.indexOf('properties:', at));
  const settings = new Map<string, string>();
  for (const line of properties.split('\n')) {
    const match = /^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:\s*(.+?)\s*$/.exec(line);
    if (match?.[1] && match[2]) settings.set(match[1], match[2]);
  }
  return settings;
}

/** Names of the settings shared/config/settings.ts reads (the keys of its schema). */
function settingNamesReadByCode(): string[] {
  return [...settingNames];
}

/**
 * Settings the code reads that the Azure template deliberately leaves unset, and why.
 * Anything not listed here must be set by infra/modules/appsettings.bicep.
 */
const notSetInAzure: Record<string, string> = {
  PORT: 'port of the local dev host; the Functions host chooses its own',
  MAIL_OUTBOX_DIR: 'local outbox for mail without SendGrid; Azure sends through SendGrid',
  SENDGRID_API_URL: 'tests point the SendGrid SDK at a local fake; Azure uses the real API',
  AzureWebJobsStorage:
    'connection-string form; Azure uses the identity form AzureWebJobsStorage__accountName',
  AzureWebJobsStorage__tableServiceUri: 'derived by the code from AzureWebJobsStorage__accountName',
  AzureWebJobsStorage__clientId:
    'only for a user-assigned identity; the template uses the system-assigned one',
  OCTOPUS_MAX_REQUESTS_PER_MINUTE:
    'optional: the code default (180 requests a minute) suits Octopus rate-limit policies; set it only to tune',
  COORDINATION_CONFIG:
    'defaults to coordination.json at the app root, which is deployed inside the package; setting it would make a missing file fatal at start',
};

/** `param <name> <type> = <default>` in main.bicep, default as written (or undefined). */
function mainParams(): Map<
  string,
  { type: string; default: string | undefined; secure: boolean; described: boolean }
> {
  const params = new Map<
    string,
    { type: string; default: string | undefined; secure: boolean; described: boolean }
  >();
  const lines = withoutComments(mainBicep).split('\n');
  lines.forEach((line, index) => {
    const match = /^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+?))?\s*$/.exec(line);
    if (!match?.[1] || !match[2]) return;
    // Decorators are the lines directly above, up to a blank line (a decorator may span lines).
    const decorators: string[] = [];
    for (let i = index - 1; i >= 0; i--) {
      const previous = lines[i]?.trim() ?? '';
      if (previous === '' || /^(param|var|resource|module|output)\s/.test(previous)) break;
      decorators.push(previous);
    }
    params.set(match[1], {
      type: match[2],
      default: match[3],
      secure: decorators.some((d) => d.startsWith('@secure(')),
      described: decorators.some((d) => d.startsWith('@description(')),
    });
  });
  return params;
}

/** Every `output` line across main.bicep and the modules. */
function outputs(): { file: string; line: string }[] {
  const found: { file: string; line: string }[] = [];
  const files: [string, string][] = [['main.bicep', mainBicep], ...modules.entries()];
  for (const [file, text] of files) {
    for (const line of withoutComments(text).split('\n')) {
      if (/^output\s/.test(line)) found.push({ file, line });
    }
  }
  return found;
}

describe('app settings in the Bicep template', () => {
  const names = settingNamesReadByCode();
  const settings = appSettings();

  it('reads the setting names from shared/config/settings.ts (parse sanity check)', () => {
    for (const name of [...Object.keys(settingDefaults), ...secretSettingNames]) {
      expect(names, `settingsSchema should contain ${name}`).toContain(name);
    }
    for (const name of Object.keys(notSetInAzure)) {
      expect(names, `${name} is excused in this test but no longer read by the code`).toContain(
        name,
      );
    }
  });

  it('sets every setting the code reads, except the dev/test-only ones listed with a reason', () => {
    const missing = names.filter((n) => !(n in notSetInAzure) && !settings.has(n));
    expect(
      missing,
      'settings the code reads but infra/modules/appsettings.bicep does not set',
    ).toEqual([]);
  });

  it('uses the identity-based storage connection, never a connection string or account key', () => {
    expect(settings.get('AzureWebJobsStorage__accountName')).toBeDefined();
    expect(settings.has('AzureWebJobsStorage')).toBe(false);
    expect(allBicep).not.toMatch(/listKeys\(|AccountKey=|SharedAccessSignature|listAccountSas\(/);
  });

  it('sets the timer schedules the functions reference as %DAILY_REPORT_SCHEDULE% and %STATUS_POLL_SCHEDULE%', () => {
    expect(settings.get('DAILY_REPORT_SCHEDULE')).toBeDefined();
    expect(settings.get('STATUS_POLL_SCHEDULE')).toBeDefined();
  });

  it('makes every secret setting a versionless Key Vault reference to a secret the vault module writes', () => {
    const vault = moduleText('keyvault.bicep');
    for (const name of secretSettingNames) {
      const value = settings.get(name) ?? '';
      const reference =
        /^'@Microsoft\.KeyVault\(VaultName=\$\{\w+\};SecretName=([a-z0-9-]+)\)'$/.exec(value);
      expect(
        reference,
        `${name} should be '@Microsoft.KeyVault(VaultName=...;SecretName=...)', got ${value}`,
      ).not.toBeNull();
      const secretName = reference?.[1] ?? '';
      expect(vault, `keyvault.bicep should define secret ${secretName}`).toContain(
        `name: '${secretName}'`,
      );
    }
  });

  it('uses the same defaults as the code for the settings it exposes as parameters', () => {
    const params = mainParams();
    for (const [setting, codeDefault] of Object.entries(settingDefaults)) {
      const value = settings.get(setting);
      if (value === undefined) continue; // not set in Azure (checked above)
      const paramName = /^(?:string\()?(\w+)\)?$/.exec(value)?.[1] ?? '';
      const param = params.get(paramName);
      expect(param, `${setting} should come from a main.bicep parameter`).toBeDefined();
      const bicepDefault = param?.default?.replace(/^'(.*)'$/, '$1');
      expect(bicepDefault, `default of parameter ${paramName} (${setting})`).toBe(codeDefault);
    }
  });
});

describe('secrets in the Bicep template', () => {
  const params = mainParams();
  const secureParams = [...params.entries()].filter(([, p]) => p.secure).map(([name]) => name);

  it('takes the five secrets as @secure() parameters with an empty default', () => {
    expect(secureParams.sort()).toEqual([
      'approvalKey',
      'coordinatorAdminKey',
      'octopusApiKey',
      'sendGridApiKey',
      'webhookSecret',
    ]);
    for (const name of secureParams) expect(params.get(name)?.default).toBe("''");
  });

  it('passes secret parameters to the Key Vault module only', () => {
    const code = withoutComments(mainBicep);
    for (const name of secureParams) {
      const uses = code
        .split('\n')
        .filter((l) => new RegExp(`\\b${name}\\b`).test(l) && !/^param\s/.test(l));
      expect(
        uses.map((l) => l.trim()),
        `uses of ${name}`,
      ).toEqual([`${name}: ${name}`]);
    }
    const vaultModule = blockAfter(
      code,
      code.search(/module\s+\w+\s+'\.\/modules\/keyvault\.bicep'/),
    );
    for (const name of secureParams) expect(vaultModule).toContain(`${name}: ${name}`);
  });

  it('writes a secret to the vault only when a value was given, so redeploying never blanks a rotated secret', () => {
    const vault = withoutComments(moduleText('keyvault.bicep'));
    const secretResources =
      vault.match(/resource\s+\w+\s+'Microsoft\.KeyVault\/vaults\/secrets@[^']+'\s*=\s*[^{]*/g) ??
      [];
    expect(secretResources).toHaveLength(5);
    for (const header of secretResources) expect(header).toMatch(/=\s*if\s*\(!empty\(\w+\)\)/);
  });

  it('uses an RBAC vault', () => {
    expect(moduleText('keyvault.bicep')).toMatch(/enableRbacAuthorization:\s*true/);
  });

  it('outputs no secret, key or connection string', () => {
    const found = outputs();
    expect(found.length).toBeGreaterThan(0);
    for (const { file, line } of found) {
      expect(line, `${file}: ${line}`).not.toMatch(
        /secret|password|key\b|apikey|connectionstring|listkeys|sas/i,
      );
      for (const name of secureParams) expect(line, `${file}: ${line}`).not.toContain(name);
    }
    const mainOutputs = found
      .filter((o) => o.file === 'main.bicep')
      .map((o) => /^output\s+(\w+)/.exec(o.line)?.[1]);
    expect(mainOutputs.sort()).toEqual(['FUNCTION_APP_NAME', 'FUNCTION_APP_URL', 'KEY_VAULT_NAME']);
  });

  it('has no @secure() output', () => {
    expect(allBicep).not.toMatch(/@secure\(\)\s*\n\s*output/);
  });
});

describe('storage, identity and roles', () => {
  it('turns shared-key access off and requires TLS 1.2 on the storage account', () => {
    const storage = moduleText('storage.bicep');
    expect(storage).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(storage).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(storage).toMatch(/minimumTlsVersion:\s*'TLS1_2'/);
    expect(storage).toMatch(/tableServices\/tables@/);
    expect(storage).toMatch(/blobServices\/containers@/);
  });

  it('gives the app a system-assigned identity and deploys its package with it', () => {
    const app = moduleText('functionapp.bicep');
    expect(app).toMatch(/identity:\s*\{\s*type:\s*'SystemAssigned'\s*\}/);
    expect(app).toMatch(/authentication:\s*\{\s*type:\s*'SystemAssignedIdentity'\s*\}/);
  });

  // Built-in role definition ids; the same in every tenant.
  const appRoles: Record<string, string> = {
    'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
    'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  };
  const deployerRole = { 'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' };

  it('assigns exactly the least-privilege roles (no Owner, Contributor or account-key roles)', () => {
    const roles = withoutComments(moduleText('roles.bicep'));
    // Storage Queue Data Contributor only when the app uses a queue (a queue trigger or output binding).
    const usesQueue = [...tsFilesUnder('functions'), ...tsFilesUnder('shared')].some((f) =>
      /\b(app|output)\.storageQueue\(/.test(readFileSync(f, 'utf8')),
    );
    expect(roles.includes('974c5e8b-45b9-4653-ba55-5f855dd0fb88')).toBe(usesQueue);
    for (const [role, id] of Object.entries(appRoles)) expect(roles, role).toContain(`'${id}'`);
    const guids = new Set(
      roles.match(/'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'/g) ?? [],
    );
    const expected = [
      ...Object.values(appRoles),
      ...Object.values(deployerRole),
      ...(usesQueue ? ['974c5e8b-45b9-4653-ba55-5f855dd0fb88'] : []),
    ].map((id) => `'${id}'`);
    expect([...guids].sort()).toEqual(expected.sort());
    expect(roles.match(/Microsoft\.Authorization\/roleAssignments@/g)?.length).toBe(4);
  });

  it('scopes each assignment to a single resource and names it guid(scope, principal, role)', () => {
    const roles = withoutComments(moduleText('roles.bicep'));
    const scopes = roles.match(/^\s*scope:\s*(\w+)\s*$/gm)?.map((s) => s.trim()) ?? [];
    expect(new Set(scopes)).toEqual(
      new Set(['scope: storage', 'scope: vault', 'scope: appInsights']),
    );
    expect(roles).not.toMatch(/scope:\s*resourceGroup\(\)|scope:\s*subscription\(\)/);
    const names = roles.match(/name:\s*guid\([^)]*\)/g) ?? [];
    expect(names).toHaveLength(4);
  });

  it('applies the app settings only after the role assignments exist', () => {
    const appSettingsModule = blockAfter(
      mainBicep,
      mainBicep.search(/module\s+\w+\s+'\.\/modules\/appsettings\.bicep'/),
    );
    expect(appSettingsModule).toMatch(/dependsOn:\s*\[\s*roles\s*\]/);
  });
});

describe('transport and publishing', () => {
  const app = moduleText('functionapp.bicep');

  it('serves HTTPS only with TLS 1.2 and FTP disabled', () => {
    expect(app).toMatch(/httpsOnly:\s*true/);
    expect(app).toMatch(/minTlsVersion:\s*'1\.2'/);
    expect(app).toMatch(/ftpsState:\s*'Disabled'/);
  });

  it('turns basic publishing credentials off for ftp and scm', () => {
    for (const name of ['ftp', 'scm']) {
      const at = app.search(
        new RegExp(`basicPublishingCredentialsPolicies@[^']+'\\s*=\\s*\\{[^}]*name:\\s*'${name}'`),
      );
      expect(at, `basicPublishingCredentialsPolicies '${name}'`).toBeGreaterThan(0);
      expect(blockAfter(app, app.indexOf('properties:', at))).toMatch(/allow:\s*false/);
    }
  });

  it('runs on Flex Consumption with Node 22', () => {
    expect(app).toMatch(/name:\s*'FC1'/);
    expect(app).toMatch(/tier:\s*'FlexConsumption'/);
    expect(app).toMatch(/kind:\s*'functionapp,linux'/);
    expect(mainBicep).toMatch(/nodeVersion:\s*'22'/);
    // Flex Consumption rejects these settings.
    expect(moduleText('appsettings.bicep')).not.toMatch(
      /FUNCTIONS_WORKER_RUNTIME|FUNCTIONS_EXTENSION_VERSION|WEBSITE_RUN_FROM_PACKAGE/,
    );
  });

  it('sends telemetry with Entra authentication only', () => {
    expect(moduleText('monitoring.bicep')).toMatch(/DisableLocalAuth:\s*true/);
    expect(appSettings().get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      "'Authorization=AAD'",
    );
  });
});

describe('template layout', () => {
  it('describes every parameter of main.bicep', () => {
    for (const [name, param] of mainParams())
      expect(param.described, `@description on param ${name}`).toBe(true);
  });

  it('references only module files that exist', () => {
    const paths = [...mainBicep.matchAll(/module\s+\w+\s+'(\.\/modules\/[^']+)'/g)].map(
      (m) => m[1] ?? '',
    );
    expect(paths.length).toBeGreaterThanOrEqual(6);
    for (const path of paths) expect(existsSync(join(root, 'infra', path)), path).toBe(true);
  });

  it('gives azd a value or a default for every parameter, and names no unknown parameter', () => {
    const file = JSON.parse(read('infra/main.parameters.json')) as {
      parameters: Record<string, unknown>;
    };
    const params = mainParams();
    for (const name of Object.keys(file.parameters))
      expect(params.has(name), `unknown parameter ${name}`).toBe(true);
    for (const [name, param] of params) {
      if (param.default === undefined)
        expect(file.parameters, `main.parameters.json should map ${name}`).toHaveProperty(name);
    }
  });

  it('declares the coordinator service for azd and tags the function app with it', () => {
    const azureYaml = read('azure.yaml');
    expect(azureYaml).toMatch(/^\s{2}coordinator:\s*$/m);
    expect(azureYaml).toMatch(/host:\s*function/);
    expect(azureYaml).toMatch(/language:\s*ts/);
    expect(azureYaml).toMatch(/project:\s*\.\s*$/m);
    expect(mainBicep).toMatch(/serviceName\s*=\s*'coordinator'/);
    expect(moduleText('functionapp.bicep')).toMatch(/'azd-service-name':\s*serviceName/);
  });
});

describe('settings read outside shared/config/settings.ts', () => {
  // Platform-provided variables the code may read without the template setting them.
  const platform =
    /^(WEBSITE_|FUNCTIONS_|AZURE_|APPLICATIONINSIGHTS_|IDENTITY_|MSI_|NODE_ENV$|CI$)/;

  function tsFiles(dir: string): string[] {
    const full = join(root, dir);
    if (!existsSync(full)) return [];
    return readdirSync(full, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => join(e.parentPath, e.name));
  }

  it('lets functions/ and shared/ read no app setting the template does not know about', () => {
    const known = new Set([...settingNamesReadByCode(), ...appSettings().keys()]);
    const unknown: string[] = [];
    for (const file of [...tsFiles('functions'), ...tsFiles('shared')]) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/process\.env(?:\.(\w+)|\[\s*['"](\w+)['"]\s*\])/g)) {
        const name = match[1] ?? match[2] ?? '';
        if (!known.has(name) && !platform.test(name))
          unknown.push(`${file.slice(root.length + 1)}: ${name}`);
      }
    }
    expect(
      unknown,
      'read these through shared/config/settings.ts and set them in infra/modules/appsettings.bicep',
    ).toEqual([]);
  });
});
