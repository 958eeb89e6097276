// Live mode: every interval, promote one project's release from Development to Test (when one is
// waiting) and create a new release of a random project and deploy it to the first environment.
import type { ClockParticipant, SimEngine } from './engine.js';
import { defaultDeploymentOptions } from './engine.js';
import { systemActor } from './eventLog.js';
import { promotableEnvironments } from './lifecycleRules.js';
import { createRelease } from './releaseFactory.js';
import { idNumber, type DeploymentRecord, type ProjectRecord } from './store.js';

export interface LiveOptions {
  /** Time between live actions (simulator clock). Default 3 minutes. */
  intervalMs?: number;
}

const liveActor = {
  ...systemActor,
  userId: 'Users-9',
  username: 'build-server',
  userAgent: 'OctopusCLI/9.1.7',
};

export class LiveMode implements ClockParticipant {
  private nextAt: number;
  private readonly intervalMs: number;

  constructor(
    private readonly engine: SimEngine,
    options: LiveOptions,
    private readonly log: (line: string) => void,
  ) {
    this.intervalMs = options.intervalMs ?? 180_000;
    this.nextAt = engine.clock.now() + Math.min(this.intervalMs, 15_000);
  }

  nextDue(): number {
    return this.nextAt;
  }

  process(at: number): void {
    this.nextAt = at + this.intervalMs;
    try {
      this.promoteOne(at);
      this.releaseOne(at);
    } catch (error) {
      this.log(
        `live mode skipped a step: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private targets(project: ProjectRecord, environmentId: string): (string | null)[] {
    if (project.tenantedDeploymentMode === 'Untenanted') return [null];
    return this.engine.state.tenants
      .filter((t) => (t.projectEnvironments[project.id] ?? []).includes(environmentId))
      .map((t) => t.id);
  }

  private deploy(
    project: ProjectRecord,
    releaseId: string,
    environmentId: string,
    at: number,
  ): void {
    for (const tenantId of this.targets(project, environmentId)) {
      const release = this.engine.state.releases.find((r) => r.id === releaseId);
      if (
        !release ||
        !promotableEnvironments(this.engine.state, release, tenantId).includes(environmentId)
      )
        continue;
      const deployment = this.engine.createDeployment(
        {
          releaseId,
          environmentId,
          tenantId,
          projectId: project.id,
          channelId: undefined,
          comments: 'live mode',
          queueTime: undefined,
          queueTimeExpiry: undefined,
          options: defaultDeploymentOptions(),
        },
        liveActor,
        at,
      );
      this.log(`live: ${deployment.name} of ${project.name} (${deployment.id})`);
    }
  }

  private releaseOne(at: number): void {
    const state = this.engine.state;
    const projects = state.projects.filter((p) => !p.isDisabled);
    const project = projects[Math.floor(Math.random() * projects.length)];
    const first = state.environments[0];
    if (!project || !first) return;
    const release = createRelease(
      state,
      { project: project.id, releaseNotes: 'Created by live mode' },
      at,
    );
    this.log(`live: created ${project.name} release ${release.version}`);
    this.deploy(project, release.id, first.id, at);
  }

  /** The newest release that succeeded in the first environment and may now go to the second. */
  private promoteOne(at: number): void {
    const state = this.engine.state;
    const [first, second] = state.environments;
    if (!first || !second) return;
    const candidates: { project: ProjectRecord; deployment: DeploymentRecord }[] = [];
    for (const project of state.projects) {
      const latest = state.deployments
        .filter((d) => d.projectId === project.id && d.environmentId === first.id)
        .sort((a, b) => b.created - a.created || idNumber(b.id) - idNumber(a.id))[0];
      if (!latest || state.tasks.find((t) => t.id === latest.taskId)?.state !== 'Success') continue;
      const inSecond = state.deployments.some(
        (d) => d.releaseId === latest.releaseId && d.environmentId === second.id,
      );
      const release = state.releases.find((r) => r.id === latest.releaseId);
      if (
        !inSecond &&
        release &&
        promotableEnvironments(state, release, latest.tenantId).includes(second.id)
      )
        candidates.push({ project, deployment: latest });
    }
    const pick = candidates[Math.floor(Math.random() * candidates.length)];
    if (pick) this.deploy(pick.project, pick.deployment.releaseId, second.id, at);
  }
}
