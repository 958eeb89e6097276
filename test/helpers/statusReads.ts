// What the status readers' tests start from: a dashboard item (Octopus's current deployment of one
// project in Production, successful) and a runtime whose Octopus nobody answers, so any Octopus call a
// reader made would fail it.
import type { CoordinationConfig } from '../../shared/config/coordination/schema.js';
import type { DashboardItem } from '../../shared/octopus/dashboard.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from './storage.js';

/** Deployment `n` of project `n` (release 1.0.`n`), current and successful in Environments-2. */
export function dashboardItem(n: number, extra: Partial<DashboardItem> = {}): DashboardItem {
  return {
    Id: `Deployments-${n}`,
    DeploymentId: `Deployments-${n}`,
    ProjectId: `Projects-${n}`,
    EnvironmentId: 'Environments-2',
    TenantId: null,
    ReleaseId: `Releases-${n}`,
    ReleaseVersion: `1.0.${n}`,
    TaskId: `ServerTasks-${n}`,
    State: 'Success',
    Created: '2026-11-20T10:00:00Z',
    IsCurrent: true,
    IsPrevious: false,
    ...extra,
  };
}

/** A runtime on its own tables whose Octopus URL has nothing listening. */
export function runtimeWithoutOctopus(config: CoordinationConfig): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      // Nothing listens here: any Octopus call would fail.
      OCTOPUS_URL: 'http://127.0.0.1:9',
      OCTOPUS_API_KEY: 'API-UITEST00000000000000000000000',
      WEBHOOK_SECRET: 'x',
    },
    tablePrefix: uniqueTablePrefix(),
    config,
  });
}
