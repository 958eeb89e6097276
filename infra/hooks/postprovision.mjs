// azd postprovision hook. Runs after infra/main.bicep is deployed, so the role assignments exist.
//
// 1. Asks App Service to resolve the Key Vault references again now
//    (POST <site>/config/configreferences/appsettings/refresh), instead of the app waiting up to 24 hours
//    for secrets set after its first start.
// 2. Removes the secrets that were given to this `azd up` from the azd environment (.azure/<env>/.env):
//    they are in the vault now, and leaving them there would write the same old value again on every
//    later `azd provision`, reverting a rotation done in the vault. Give a secret again only to change it.
//
// Plain Node, no dependencies. It talks to Azure Resource Manager with `azd auth token`, so it needs
// nothing but azd. AZURE_RESOURCE_MANAGER_ENDPOINT may point it at a sovereign cloud (or a test server).
import { spawnSync } from 'node:child_process';

const secrets = [
  'OCTOPUS_API_KEY',
  'SENDGRID_API_KEY',
  'WEBHOOK_SECRET',
  'COORDINATOR_APPROVAL_KEY',
];
const apiVersion = '2022-03-01';
const env = process.env;
const azd = env.AZD_COMMAND ?? 'azd';

function azdRun(args) {
  const result = spawnSync(azd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(`azd ${args[0]} ${args[1] ?? ''} failed: ${(result.stderr ?? '').trim()}`);
  return result.stdout;
}

function required(name) {
  const value = env[name];
  if (!value)
    throw new Error(`${name} is not set in the azd environment (did provisioning finish?)`);
  return value;
}

async function refreshKeyVaultReferences() {
  const endpoint = (env.AZURE_RESOURCE_MANAGER_ENDPOINT ?? 'https://management.azure.com').replace(
    /\/+$/,
    '',
  );
  const site =
    `/subscriptions/${encodeURIComponent(required('AZURE_SUBSCRIPTION_ID'))}` +
    `/resourceGroups/${encodeURIComponent(required('AZURE_RESOURCE_GROUP'))}` +
    `/providers/Microsoft.Web/sites/${encodeURIComponent(required('FUNCTION_APP_NAME'))}`;
  const { token } = JSON.parse(
    azdRun(['auth', 'token', '--output', 'json', '--scope', `${endpoint}/.default`]),
  );
  const url = `${endpoint}${site}/config/configreferences/appsettings/refresh?api-version=${apiVersion}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-length': '0' },
  });
  if (!response.ok) {
    const body = (await response.text()).slice(0, 300);
    throw new Error(`refreshing the Key Vault references answered ${response.status}: ${body}`);
  }
  console.log('Asked App Service to resolve the Key Vault references again.');
}

function forgetGivenSecrets() {
  const given = secrets.filter((name) => (env[name] ?? '') !== '');
  for (const name of given) azdRun(['env', 'set', name, '']);
  if (given.length > 0)
    console.log(
      `Stored in the Key Vault and removed from the azd environment: ${given.join(', ')}. ` +
        'A later `azd provision` leaves them as they are in the vault; give one again only to change it.',
    );
}

let failed = false;
try {
  await refreshKeyVaultReferences();
} catch (err) {
  // Not fatal: the platform resolves the references by itself within 24 hours, and /api/health names
  // each setting that is still unresolved.
  console.warn(`warning: ${err.message}. /api/health lists any setting still unresolved.`);
}
try {
  forgetGivenSecrets();
} catch (err) {
  failed = true;
  console.error(
    `Could not remove the secrets from the azd environment: ${err.message}. Remove them with ` +
      '`azd env set <NAME> ""` so that a later provision does not overwrite a rotated secret.',
  );
}
process.exitCode = failed ? 1 : 0;
