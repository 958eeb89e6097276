// Builds the simulator's state from a parsed scenario, with history timestamps relative to "now".
import { appendDeploymentEvent, systemActor } from './eventLog.js';
import { concurrencyTag, defaultDeploymentOptions, newTask, workerName } from './engine.js';
import type { ParsedScenario, ScenarioHistoryEntry, ScenarioLifecycle } from './scenario.js';
import {
  emptyState,
  firstEventNumber,
  find,
  nextId,
  slugify,
  type DeploymentRecord,
  type ReleaseRecord,
  type SimState,
  type TaskRecord,
} from './store.js';

const minute = 60_000;
const historyUsers = ['alex.morgan', 'sam.lee', 'priya.shah'];

export function buildState(scenario: ParsedScenario, now: number, idOffset = 0): SimState {
  const state = emptyState(idOffset);
  state.space = {
    id: nextId(state, 'Spaces'),
    name: scenario.space.name,
    slug: slugify(scenario.space.name),
    description: scenario.space.description ?? '',
  };
  state.defaultStepDurationMs = scenario.stepDurationMs;
  state.webhookBatchIntervalMs = scenario.webhookBatchIntervalMs;
  const problems: string[] = [];
  const need = <T>(value: T | undefined, what: string): T | undefined => {
    if (value === undefined) problems.push(`${what} is not defined in the scenario.`);
    return value;
  };

  scenario.environments.forEach((entry, index) => {
    const env = typeof entry === 'string' ? { name: entry } : entry;
    state.environments.push({
      id: nextId(state, 'Environments'),
      name: env.name,
      slug: slugify(env.name),
      description: env.description ?? '',
      sortOrder: index,
      useGuidedFailure: env.useGuidedFailure ?? false,
    });
  });
  const envIds = (names: string[], where: string): string[] =>
    names.flatMap(
      (name) => need(find.environment(state, name), `Environment "${name}" (${where})`)?.id ?? [],
    );

  const lifecycles: ScenarioLifecycle[] = scenario.lifecycles.length
    ? scenario.lifecycles
    : [
        {
          name: 'Default Lifecycle',
          phases: scenario.environments.map((e) => ({
            environments: [typeof e === 'string' ? e : e.name],
          })),
        },
      ];
  for (const lifecycle of lifecycles) {
    state.lifecycles.push({
      id: nextId(state, 'Lifecycles'),
      name: lifecycle.name,
      slug: slugify(lifecycle.name),
      description: lifecycle.description ?? '',
      phases: lifecycle.phases.map((phase, i) => {
        const ids = envIds(phase.environments, `lifecycle ${lifecycle.name}`);
        const automatic = phase.automatic === true;
        return {
          id: nextId(state, 'Phases'),
          name:
            phase.name ??
            (phase.environments.length === 1
              ? (phase.environments[0] ?? `Phase ${i + 1}`)
              : `Phase ${i + 1}`),
          automaticDeploymentTargets: automatic ? ids : [],
          optionalDeploymentTargets: automatic ? [] : ids,
          minimumEnvironmentsBeforePromotion: phase.minimumEnvironmentsBeforePromotion ?? 0,
          isOptionalPhase: phase.optional === true,
        };
      }),
    });
  }
  const defaultLifecycle = state.lifecycles[0];

  for (const project of scenario.projects) {
    const lifecycle = project.lifecycle
      ? need(find.lifecycle(state, project.lifecycle), `Lifecycle "${project.lifecycle}"`)
      : defaultLifecycle;
    const record = {
      id: nextId(state, 'Projects'),
      name: project.name,
      slug: slugify(project.name),
      description: project.description ?? '',
      lifecycleId: lifecycle?.id ?? '',
      tenantedDeploymentMode: project.tenantedDeploymentMode,
      steps: project.steps,
      stepDurationMs: project.stepDurationMs,
      concurrencyTag: project.concurrencyTag,
      isDisabled: project.isDisabled ?? false,
      cancelQueuedTasks: project.cancelQueuedTasks ?? false,
      cancelRunningTasks: project.cancelRunningTasks ?? false,
      deploymentProcessId: '',
      variableSetId: '',
    };
    record.deploymentProcessId = `deploymentprocess-${record.id}`;
    record.variableSetId = `variableset-${record.id}`;
    state.projects.push(record);
    const channels = project.channels?.length
      ? project.channels
      : [{ name: 'Default', isDefault: true }];
    channels.forEach((channel, i) => {
      const channelLifecycle =
        'lifecycle' in channel && channel.lifecycle
          ? need(find.lifecycle(state, channel.lifecycle), `Lifecycle "${channel.lifecycle}"`)
          : undefined;
      state.channels.push({
        id: nextId(state, 'Channels'),
        name: channel.name,
        slug: slugify(channel.name),
        projectId: record.id,
        lifecycleId: channelLifecycle?.id ?? null,
        isDefault: channel.isDefault ?? i === 0,
      });
    });
    for (const runbook of project.runbooks ?? []) {
      state.runbooks.push({
        id: nextId(state, 'Runbooks'),
        name: runbook.name,
        projectId: record.id,
        description: runbook.description ?? '',
        steps: runbook.steps,
        snapshotId: nextId(state, 'RunbookSnapshots'),
        processId: nextId(state, 'RunbookProcess'),
      });
    }
  }

  for (const tenant of scenario.tenants) {
    const projectEnvironments: Record<string, string[]> = {};
    for (const [projectName, environments] of Object.entries(tenant.projectEnvironments)) {
      const project = need(
        find.project(state, projectName),
        `Project "${projectName}" (tenant ${tenant.name})`,
      );
      if (project) projectEnvironments[project.id] = envIds(environments, `tenant ${tenant.name}`);
    }
    state.tenants.push({
      id: nextId(state, 'Tenants'),
      name: tenant.name,
      slug: slugify(tenant.name),
      description: tenant.description ?? '',
      tags: tenant.tags ?? [],
      projectEnvironments,
    });
  }

  const releaseCreated = (
    project: string,
    version: string,
    index: number,
    count: number,
  ): number => {
    const firstUse = scenario.history
      .filter((h) => h.project.toLowerCase() === project.toLowerCase() && h.release === version)
      .map((h) => h.minutesAgo);
    if (firstUse.length > 0) return now - (Math.max(...firstUse) + 15) * minute;
    return now - (count - index) * 24 * 60 * minute;
  };
  const releaseInputs = [...scenario.releases].map((release, i) => ({ release, i }));
  const sortedReleases = releaseInputs
    .map(({ release, i }) => ({
      release,
      created:
        release.createdMinutesAgo !== undefined
          ? now - release.createdMinutesAgo * minute
          : releaseCreated(release.project, release.version, i, scenario.releases.length),
    }))
    .sort((a, b) => a.created - b.created);
  for (const { release, created } of sortedReleases) {
    const project = need(
      find.project(state, release.project),
      `Project "${release.project}" (release ${release.version})`,
    );
    if (!project) continue;
    const channels = state.channels.filter((c) => c.projectId === project.id);
    const channel = release.channel
      ? channels.find((c) => c.name.toLowerCase() === release.channel?.toLowerCase())
      : (channels.find((c) => c.isDefault) ?? channels[0]);
    if (!channel) {
      problems.push(`Channel "${release.channel ?? 'Default'}" of ${project.name} is not defined.`);
      continue;
    }
    state.releases.push({
      id: nextId(state, 'Releases'),
      version: release.version,
      projectId: project.id,
      channelId: channel.id,
      assembled: created,
      releaseNotes: release.releaseNotes ?? '',
    });
  }

  const history = [...scenario.history].sort((a, b) => b.minutesAgo - a.minutesAgo);
  history.forEach((entry, i) => addHistoricDeployment(state, entry, now, i, problems));
  // History is written deployment by deployment; number its events in the order they occurred.
  state.events.sort((a, b) => a.occurred - b.occurred);
  state.events.forEach((event, i) => {
    event.autoId = firstEventNumber(state) + i;
    event.id = `Events-${event.autoId}`;
  });

  if (problems.length > 0) throw new Error(`The scenario is not consistent: ${problems.join(' ')}`);
  return state;
}

function addHistoricDeployment(
  state: SimState,
  entry: ScenarioHistoryEntry,
  now: number,
  index: number,
  problems: string[],
): void {
  const project = find.project(state, entry.project);
  const environment = find.environment(state, entry.environment);
  const tenant = entry.tenant ? find.tenant(state, entry.tenant) : undefined;
  const release: ReleaseRecord | undefined = project
    ? state.releases.find((r) => r.projectId === project.id && r.version === entry.release)
    : undefined;
  const where = `history entry ${entry.project} ${entry.release} to ${entry.environment}`;
  if (!project || !environment || !release || (entry.tenant && !tenant)) {
    problems.push(
      `The ${where} names a project, release, environment or tenant that is not defined.`,
    );
    return;
  }
  const created = now - entry.minutesAgo * minute;
  const deployedBy = entry.deployedBy ?? historyUsers[index % historyUsers.length] ?? 'alex.morgan';
  const deployment: DeploymentRecord = {
    id: nextId(state, 'Deployments'),
    name: `Deploy to ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`,
    projectId: project.id,
    releaseId: release.id,
    channelId: release.channelId,
    environmentId: environment.id,
    tenantId: tenant?.id ?? null,
    taskId: nextId(state, 'ServerTasks'),
    created,
    queueTime: undefined,
    queueTimeExpiry: undefined,
    comments: entry.comments ?? null,
    deployedBy,
    deployedById: `Users-${2 + (index % historyUsers.length)}`,
    options: defaultDeploymentOptions(),
  };
  const task: TaskRecord = newTask({
    id: deployment.taskId,
    name: 'Deploy',
    description: `Deploy ${project.name} release ${release.version} to ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`,
    projectId: project.id,
    environmentId: environment.id,
    tenantId: tenant?.id ?? null,
    deploymentId: deployment.id,
    runbookRunId: undefined,
    queued: created,
    queueTime: undefined,
    queueTimeExpiry: undefined,
    steps: project.steps,
    concurrencyTag: concurrencyTag(
      project.concurrencyTag,
      project.id,
      environment.id,
      tenant?.id ?? null,
    ),
  });
  state.deployments.push(deployment);
  state.tasks.push(task);
  appendDeploymentEvent(state, 'DeploymentQueued', deployment, created, {
    userId: deployment.deployedById ?? 'users-system',
    username: deployedBy,
    userAgent: 'OctopusClient-js/3.11.0',
  });
  const completedAt = created + (entry.durationSeconds ?? 60 + ((index * 37) % 120)) * 1000;
  if (entry.outcome === 'TimedOut') {
    task.state = 'TimedOut';
    task.completedTime = completedAt;
    task.lastUpdated = completedAt;
    task.errorMessage = 'The task was not started before its queue time expired.';
    return;
  }
  const started = created + 2000;
  task.startTime = started;
  appendDeploymentEvent(state, 'DeploymentStarted', deployment, started, systemActor);
  const failAt =
    entry.outcome === 'Success'
      ? undefined
      : Math.min(entry.failAtStep ?? task.steps.length, task.steps.length);
  const stepMs = (completedAt - started) / (failAt ?? task.steps.length);
  task.steps.forEach((step, i) => {
    if (failAt !== undefined && i + 1 > failAt) {
      step.status = 'Skipped';
      return;
    }
    step.started = Math.round(started + i * stepMs);
    step.ended = Math.round(started + (i + 1) * stepMs);
    const failed = failAt === i + 1;
    step.status = failed ? (entry.outcome === 'Canceled' ? 'Canceled' : 'Failed') : 'Success';
    step.logs.push({
      category: 'Info',
      occurredAt: step.started,
      messageText: `Running on ${workerName}`,
    });
    if (failed && entry.outcome === 'Failed')
      step.logs.push({
        category: 'Error',
        occurredAt: step.ended,
        messageText: 'The script returned exit code 1.',
      });
  });
  task.state = entry.outcome;
  task.completedTime = completedAt;
  task.lastUpdated = completedAt;
  const failedStep = failAt !== undefined ? task.steps[failAt - 1] : undefined;
  if (entry.outcome === 'Failed') {
    task.errorMessage = `The deployment failed at ${failedStep?.name ?? 'a step'}`;
    appendDeploymentEvent(state, 'DeploymentFailed', deployment, completedAt, systemActor);
  } else if (entry.outcome === 'Canceled') {
    task.errorMessage = 'The task was canceled.';
    appendDeploymentEvent(state, 'TaskCanceled', deployment, completedAt, systemActor);
  } else appendDeploymentEvent(state, 'DeploymentSucceeded', deployment, completedAt, systemActor);
}
