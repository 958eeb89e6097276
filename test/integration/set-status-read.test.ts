// One reader of the recorded set status: GET /api/status and the status page see the same projects,
// also when a set's JSON is too long for one Table property (over 32 K characters, split in parts).
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { recordSetStatus } from '../../shared/status/record.js';
import { readStatusPage } from '../../shared/ui/readStatusPage.js';
import { statusView } from '../../shared/ui/statusView.js';
import { dashboardItem, runtimeWithoutOctopus } from '../helpers/statusReads.js';

let runtime: Runtime;
const names = Array.from(
  { length: 150 },
  (_, i) => `Platform ${String(i).padStart(3, '0')} ${'Long Service Name '.repeat(8)}`,
);

beforeAll(async () => {
  runtime = await runtimeWithoutOctopus(
    parseCoordinationConfig({
      space: 'Default',
      projectSets: { platform: { projects: names } },
    }),
  );
  await recordSetStatus(runtime, {
    takenAt: new Date('2026-11-20T10:05:00Z'),
    spaces: [],
    problems: [],
    octopusCalls: 1,
    cells: [
      {
        set: 'platform',
        space: 'Default',
        spaceId: 'Spaces-1',
        environment: 'Production',
        environmentId: 'Environments-2',
        tenant: null,
        state: 'complete',
        environmentOrder: 0,
        projects: names.map((project, i) => ({
          project,
          projectId: `Projects-${i}`,
          current: dashboardItem(i),
          lastSuccessful: undefined,
        })),
      },
    ],
  });
});

describe('a set whose recorded projects take more than one Table property', () => {
  it('shows all 150 projects in GET /api/status and on the status page', async () => {
    const api = await statusView(runtime);
    const apiProjects = api.sets[0]?.cells[0]?.projects ?? [];
    expect(JSON.stringify(apiProjects).length).toBeGreaterThan(32 * 1024);
    expect(apiProjects).toHaveLength(150);

    const page = await readStatusPage(runtime, { refreshSeconds: 30 });
    const pageProjects = page.sets.ok ? (page.sets.value.sets[0]?.cells[0]?.projects ?? []) : [];
    expect(pageProjects.map((p) => p.project)).toEqual(apiProjects.map((p) => p.project));
    expect(pageProjects[149]).toMatchObject({
      release: '1.0.149',
      taskUrl: 'http://127.0.0.1:9/app#/Spaces-1/tasks/ServerTasks-149',
    });
  });
});
