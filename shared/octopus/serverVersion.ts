// Which Octopus servers the coordinator supports, read from the root document's Version.

/**
 * The oldest supported servers: the task list's date filters (fromCompletedDate, …), which the daily
 * report and status poll rely on, arrived in 2021.2.7939 (2021.2 line) and 2021.3.9970 (2021.3 line).
 * An older server ignores them and every read pages through all history.
 */
export const oldestSupportedVersion = '2021.2.7939';

function parts(version: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** True when the server has what the coordinator needs; undefined when the version cannot be read. */
export function isSupportedVersion(version: string): boolean | undefined {
  const p = parts(version);
  if (!p) return undefined;
  const [major = 0, minor = 0, build = 0] = p;
  if (major !== 2021) return major > 2021;
  if (minor === 2) return build >= 7939;
  if (minor === 3) return build >= 9970;
  return minor > 3;
}

/** What to tell the operator about an unsupported server, or undefined when it is fine (or unknown). */
export function versionProblem(version: string): string | undefined {
  if (isSupportedVersion(version) !== false) return undefined;
  return `Octopus ${version} is older than the oldest supported version (${oldestSupportedVersion}, or 2021.3.9970 on the 2021.3 line): it ignores the task list's date filters, so reports and status polls read the whole task history and may be slow or incomplete. Upgrade Octopus.`;
}

/** True when `version` is at least `least` (year.minor.build); undefined when either cannot be read. */
export function versionAtLeast(version: string, least: string): boolean | undefined {
  const have = parts(version);
  const need = parts(least);
  if (!have || !need) return undefined;
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Deployment freezes and their API (`/api/deploymentfreezes`) arrived in Octopus 2024.2. */
export const deploymentFreezesSince = '2024.2.0';
/** Priority deployments (`Priority: "On"` on a new deployment) arrived in Octopus 2025.2.7584. */
export const priorityDeploymentsSince = '2025.2.7584';
