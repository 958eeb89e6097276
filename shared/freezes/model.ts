// What a freeze is, for both kinds the coordinator honours: its own (POST /api/freezes) and Octopus's deployment freezes.

/** A coordinator freeze: no deployment starts in its environments (all, when none are named) while it is in force. */
export interface Freeze {
  id: string;
  /** The environments as the caller named them; null = every environment. */
  environments: string[] | null;
  /** Their Octopus ids, when Octopus could be asked at the time (matched as well as the names). */
  environmentIds: string[];
  reason: string;
  by: string;
  createdAt: string;
  /** When it ends by itself; absent: until lifted. */
  until?: string;
  /** Whether a rollback (onFailure's redeployPrevious, or a deploy marked rollback) may pass. */
  allowRollbacks: boolean;
  /** The request id it was created under (a repeated POST answers the same freeze). */
  requestId?: string;
  liftedAt?: string;
  liftedBy?: string;
  liftReason?: string;
}

/** Where a deployment would go, by name (as the plan says) and by Octopus id. */
export interface FreezeTarget {
  project: string;
  environment: string;
  tenant: string | null;
  projectId: string;
  environmentId: string;
  tenantId: string | null;
}

/** One freeze that covers a target now. */
export interface FreezeHit {
  source: 'coordinator' | 'octopus';
  id: string;
  /** The coordinator freeze's reason, or the Octopus freeze's name. */
  name: string;
  by?: string;
  /** When it ends (this occurrence, for a repeating Octopus freeze); absent: until lifted. */
  until?: string;
  allowsRollback: boolean;
}

/** What the freezes say about one target. */
export interface FreezeVerdict {
  hits: FreezeHit[];
  /** Things the check could not see (an Octopus server without the freezes API, …). */
  notes: string[];
}

/** Read the freezes that cover a target now. */
export type FreezeCheck = (target: FreezeTarget) => Promise<FreezeVerdict>;

export function isInForce(f: Freeze, at: Date): boolean {
  if (f.liftedAt !== undefined) return false;
  return f.until === undefined || at.getTime() < Date.parse(f.until);
}

/** Whether a coordinator freeze covers an environment (by id, or by the name the plan uses). */
export function coversEnvironment(f: Freeze, environment: { name: string; id: string }): boolean {
  if (f.environments === null) return true;
  if (f.environmentIds.includes(environment.id)) return true;
  const wanted = environment.name.trim().toLowerCase();
  return f.environments.some((e) => e.trim().toLowerCase() === wanted);
}

export function coordinatorHit(f: Freeze): FreezeHit {
  return {
    source: 'coordinator',
    id: f.id,
    name: f.reason,
    by: f.by,
    ...(f.until ? { until: f.until } : {}),
    allowsRollback: f.allowRollbacks,
  };
}

/** One freeze, for people: which, by whom, why, and until when. */
export function describeHit(h: FreezeHit): string {
  const until = h.until ? `until ${h.until}` : 'until it is lifted';
  return h.source === 'coordinator'
    ? `coordinator freeze ${h.id} by ${h.by ?? 'someone'} ("${h.name}", ${until})`
    : `Octopus deployment freeze "${h.name}" (${h.id}, ${until})`;
}

/** Why a target is frozen, for people. */
export function describeFrozen(
  where: { project: string; environment: string; tenant: string | null },
  hits: readonly FreezeHit[],
): string {
  const place = `${where.environment}${where.tenant ? ` for ${where.tenant}` : ''}`;
  return `${place} is frozen for ${where.project}: ${hits.map(describeHit).join('; ')}`;
}
