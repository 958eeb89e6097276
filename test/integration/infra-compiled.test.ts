// infra/main.bicep compiled and linted by the real Bicep CLI (restored from NuGet by dev/bicep.ts), and
// structural checks on the compiled ARM JSON where that is simpler and surer than reading Bicep text.
// Without the .NET SDK (or without a NuGet feed) these tests report themselves skipped with the reason;
// `.ci/run` always has both and runs `npm run infra:check` besides.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  bicepBuild,
  bicepLint,
  failing,
  findOrRestoreBicep,
  formatDiagnostic,
  parseDiagnostics,
} from '../../dev/bicep.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = findOrRestoreBicep(root);
if (!cli.ok) console.warn(`infra-compiled: skipped: ${cli.reason}`);

interface ArmResource {
  type: string;
  name: string;
  condition?: unknown;
  properties?: Record<string, unknown> & {
    parameters?: Record<string, { value?: unknown }>;
    template?: ArmTemplate;
  };
  [key: string]: unknown;
}

interface ArmTemplate {
  parameters?: Record<string, { type: string; allowedValues?: unknown[]; defaultValue?: unknown }>;
  resources: ArmResource[] | Record<string, ArmResource>;
  outputs?: Record<string, { type: string }>;
}

const list = (t: ArmTemplate): ArmResource[] =>
  Array.isArray(t.resources) ? t.resources : Object.values(t.resources);

function moduleNamed(
  t: ArmTemplate,
  name: string,
): ArmResource & { properties: { template: ArmTemplate } } {
  const found = list(t).find(
    (r) => r.type === 'Microsoft.Resources/deployments' && r.name === name,
  );
  if (!found?.properties?.template) throw new Error(`no module deployment named ${name}`);
  return found as ArmResource & { properties: { template: ArmTemplate } };
}

function resourcesOfType(t: ArmTemplate, type: string): ArmResource[] {
  return list(t).filter((r) => r.type.toLowerCase() === type.toLowerCase());
}

describe('diagnostics parsing', () => {
  it('reads the file, position, level and rule of each line the CLI prints', () => {
    const found = parseDiagnostics(
      '/x/infra/main.bicep(38,7) : Warning secure-secrets-in-params: Parameter may be a secret. [https://aka.ms/x]\nnoise\n',
    );
    expect(found).toEqual([
      {
        file: '/x/infra/main.bicep',
        line: 38,
        column: 7,
        level: 'Warning',
        code: 'secure-secrets-in-params',
        message: 'Parameter may be a secret. [https://aka.ms/x]',
      },
    ]);
    expect(failing(found)).toHaveLength(1);
    expect(failing(found.map((d) => ({ ...d, level: 'Info' as const })))).toHaveLength(0);
  });
});

describe.skipIf(!cli.ok)('infra/main.bicep with the real Bicep CLI', () => {
  const path = cli.ok ? cli.path : '';
  const build = cli.ok ? bicepBuild(path, root) : undefined;
  const template = build?.template as ArmTemplate;

  it('builds with no error and no warning', () => {
    expect(build?.status, build?.stderr).toBe(0);
    expect(failing(build?.diagnostics ?? []).map((d) => formatDiagnostic(d, root))).toEqual([]);
  });

  it('lints clean under infra/bicepconfig.json', () => {
    const lint = bicepLint(path, root);
    expect(failing(lint.diagnostics).map((d) => formatDiagnostic(d, root))).toEqual([]);
    expect(lint.status).toBe(0);
  }, 300_000); // the CLI is a .NET program: slow to start on a loaded machine

  it('runs the function app on Node 22', () => {
    const app = moduleNamed(template, 'functionapp');
    expect(app.properties.parameters?.nodeVersion?.value).toBe('22');
    const site = resourcesOfType(app.properties.template, 'Microsoft.Web/sites')[0];
    const config = site?.properties?.functionAppConfig as {
      runtime: { name: string; version: string };
    };
    expect(config.runtime).toEqual({ name: 'node', version: "[parameters('nodeVersion')]" });
    expect(app.properties.template.parameters?.nodeVersion?.allowedValues).toEqual(['22']);
  });

  it('offers the 512 MB instance size', () => {
    expect(template.parameters?.instanceMemoryMB?.allowedValues).toEqual([512, 2048, 4096]);
  });

  it('takes the deployer principal type from azd (AZURE_PRINCIPAL_TYPE), so CI as a service principal works', () => {
    expect(template.parameters?.deployerPrincipalType?.allowedValues).toContain('ServicePrincipal');
    const file = JSON.parse(readFileSync(join(root, 'infra/main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(file.parameters.deployerPrincipalType?.value).toMatch(
      /^\$\{AZURE_PRINCIPAL_TYPE(=User)?\}$/,
    );
    const roles = moduleNamed(template, 'roles');
    expect(roles.properties.parameters?.deployerPrincipalType?.value).toBe(
      "[parameters('deployerPrincipalType')]",
    );
  });

  it('outputs no secure value', () => {
    for (const [name, output] of Object.entries(template.outputs ?? {}))
      expect(output.type.toLowerCase(), name).not.toMatch(/secure/);
  });

  it('sends Key Vault audit logs and storage request logs to Log Analytics', () => {
    const diagnostics = moduleNamed(template, 'diagnostics').properties.template;
    const settings = resourcesOfType(diagnostics, 'Microsoft.Insights/diagnosticSettings');
    const scopes = settings.map((s) => String(s.scope));
    expect(scopes.some((s) => /Microsoft\.KeyVault\/vaults/.test(s))).toBe(true);
    for (const service of ['tableServices', 'blobServices', 'queueServices'])
      expect(
        scopes.some((s) => s.includes(service)),
        service,
      ).toBe(true);
    for (const s of settings) expect(String(s.properties?.workspaceId)).toMatch(/workspaces/);
  });

  it('has the two alerts: every timer job failing repeatedly, and the webhook 5xx rate', () => {
    const alerts = moduleNamed(template, 'alerts').properties.template;
    const rules = resourcesOfType(alerts, 'Microsoft.Insights/scheduledQueryRules');
    expect(rules).toHaveLength(2);
    const queries = rules.map((r) => JSON.stringify(r.properties?.criteria));
    expect(queries.some((q) => q.includes('timerList') && q.includes('success == false'))).toBe(
      true,
    );
    expect(queries.some((q) => q.includes('octopusWebhook') && q.includes('>= 500'))).toBe(true);
    // The rule watches every timer the app registers (app.timer('name', ...) in functions/ and shared/).
    const timers = new Set<string>();
    for (const dir of ['functions', 'shared'])
      for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }))
        if (file.endsWith('.ts'))
          for (const m of readFileSync(join(root, dir, file), 'utf8').matchAll(
            /app\.timer\(\s*'([^']+)'/g,
          ))
            timers.add(m[1] ?? '');
    expect(timers.size).toBeGreaterThan(0);
    const watched = alerts.parameters?.timerFunctions?.defaultValue as string[];
    expect([...watched].sort()).toEqual([...timers].sort());
  });
});
