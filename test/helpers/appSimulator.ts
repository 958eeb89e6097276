// One project on the Octopus simulator, for tests of how a single deployment is seen: App (steps
// Approve and Deploy) with releases 1.0.0, 1.1.0 and 1.2.0 in Development, 1 s a step, the simulator's
// clock paused (tests move it), and an Octopus client on it.
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { createOctopusClient, type OctopusClient } from '../../shared/octopus/client.js';

export interface AppSimulator {
  sim: OctopusSimulator;
  octopus: OctopusClient;
  /** Create a deployment of App `version` to Development, as Octopus's API does. */
  deploy(version: string): Promise<{ Id: string; TaskId: string }>;
}

export async function startAppSimulator(): Promise<AppSimulator> {
  const sim = await startOctopusSimulator({
    port: 0,
    scenario: {
      environments: ['Development'],
      lifecycles: [{ name: 'Default', phases: [{ environments: ['Development'] }] }],
      projects: [{ name: 'App', steps: ['Approve', 'Deploy'] }],
      releases: ['1.0.0', '1.1.0', '1.2.0'].map((version) => ({ project: 'App', version })),
      stepDurationMs: 1000,
    },
  });
  sim.clock({ action: 'pause' });
  const octopus = createOctopusClient({ url: sim.url, apiKey: sim.apiKey, space: 'Default' });
  return {
    sim,
    octopus,
    async deploy(version) {
      const [project] = await octopus.projects.all();
      const [environment] = await octopus.environments.all();
      const release = await octopus.releases.byVersion(project?.Id ?? '', version);
      return octopus.deployments.create({
        ReleaseId: release?.Id ?? '',
        ProjectId: project?.Id ?? '',
        EnvironmentId: environment?.Id ?? '',
      });
    },
  };
}
