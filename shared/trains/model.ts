// Release trains: the combination of releases that stood together in one set × environment (× tenant),
// captured as an immutable record. Its id comes from its content, so the same combination is one train.
import { createHash } from 'node:crypto';
import { trainIdPattern } from '../config/coordination/playbooks.js';

/** One project's release in a train. */
export interface TrainMember {
  project: string;
  projectId: string;
  /** The deployment's tenant (null: an untenanted project, also in a tenanted set). */
  tenant: string | null;
  releaseId: string;
  version: string;
  deploymentId: string;
  taskId: string;
  /** When its deployment finished in Octopus (Octopus's clock): when it went live there. */
  wentLiveAt: string | null;
  /** Who started the deployment, as Octopus says (null when it could not be read). */
  deployedBy: string | null;
}

/**
 * Where a train stands in its soak. `soaking`: it has stood unchanged since `standingSince` and is
 * verified once it has stood `soakMinutes`; `interrupted`: a member changed or failed before that;
 * `verified`: it stood its soak (a fact, never taken back).
 */
export type TrainState = 'soaking' | 'interrupted' | 'verified';

export interface Train {
  id: string;
  set: string;
  space: string;
  spaceId: string;
  environment: string;
  environmentId: string;
  /** The cell's tenant, null for an untenanted set. */
  tenant: string | null;
  tenantId: string | null;
  members: TrainMember[];
  /** Storage time of the capture. */
  capturedAt: string;
  /** Who or what captured it: `api: <who>` or `watch <name>`. */
  capturedBy: string;
  state: TrainState;
  /**
   * Storage time from which the coordinator has seen the train standing (its first observation of
   * the current deployments), absent while interrupted.
   */
  standingSince: string | null;
  /** Storage time at which it was seen to have stood its soak. */
  verifiedAt: string | null;
  /** The soak it was verified against (minutes). */
  verifiedSoakMinutes: number | null;
  interruptedAt: string | null;
  interruption: string | null;
}

/** What identifies a combination: the set, the place, and each member's release (by Octopus ids). */
export interface Combination {
  set: string;
  environmentId: string;
  tenantId: string | null;
  members: readonly { projectId: string; releaseId: string }[];
}

/** Set names are letters, digits, _ . - (the config says so), so `@` separates the set from the hash. */
export function trainIdOf(c: Combination): string {
  const members = [...c.members]
    .map((m) => [m.projectId, m.releaseId])
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  const hash = createHash('sha256')
    .update(JSON.stringify(['train-v1', c.set, c.environmentId, c.tenantId ?? '', members]))
    .digest('hex')
    .slice(0, 16);
  return `${c.set}@${hash}`;
}

export { trainIdPattern };

/** The set a train id belongs to, or undefined when it is not a train id. */
export function setOfTrainId(id: string): string | undefined {
  return trainIdPattern.exec(id)?.[1];
}

/** The deployments a train stands on: the same ids on a later reading prove nothing was deployed in between. */
export function deploymentsFingerprint(deploymentIds: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([...deploymentIds].sort()))
    .digest('hex')
    .slice(0, 24);
}

/** When the last member went live (Octopus's clock; for people). */
export function wentLiveAt(train: Pick<Train, 'members'>): string | null {
  const times = train.members
    .map((m) => (m.wentLiveAt ? Date.parse(m.wentLiveAt) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length > 0 ? new Date(Math.max(...times)).toISOString() : null;
}

export function describeTrain(train: Pick<Train, 'id' | 'members'>): string {
  return `${train.id} (${train.members.map((m) => `${m.project}${m.tenant ? ` [${m.tenant}]` : ''} ${m.version}`).join(', ')})`;
}

/**
 * Every train id a stored or configured object names: the strings under a `train` key, at any depth
 * (a deploy's release, an approval round's items, a playbook's release selector).
 */
export function trainIdsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) trainIdsIn(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'train' && typeof inner === 'string' && trainIdPattern.test(inner))
        into.add(inner);
      else trainIdsIn(inner, into);
    }
  }
  return into;
}
