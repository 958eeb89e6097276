// A deployment waiting for someone in Octopus (manual intervention, guided failure) on the status page:
// the status poll records it from the dashboard's HasPendingInterruptions, and the set matrix says so
// with the link to answer it.
import { describe, expect, it } from 'vitest';
import type { DashboardItem } from '../../shared/octopus/dashboard.js';
import { recordedProjects } from '../../shared/status/record.js';
import { renderSets } from '../../shared/ui/renderSets.js';
import { dashboardItem } from '../helpers/statusReads.js';

const item = (n: number, extra: Partial<DashboardItem> = {}): DashboardItem =>
  dashboardItem(n, { Created: '2026-12-02T09:00:00Z', IsCompleted: true, ...extra });

describe('a deployment waiting for someone in Octopus', () => {
  const cell = {
    set: 'web',
    space: 'Default',
    spaceId: 'Spaces-1',
    environment: 'Production',
    environmentId: 'Environments-2',
    tenant: null,
    state: 'deploying' as const,
    environmentOrder: 0,
    projects: [
      {
        project: 'API',
        projectId: 'Projects-1',
        current: item(1, {
          State: 'Queued',
          IsCompleted: false,
          HasPendingInterruptions: true,
          PendingInterruptionTypes: ['ManualIntervention'],
        }),
        lastSuccessful: undefined,
      },
      { project: 'Web', projectId: 'Projects-2', current: item(2), lastSuccessful: undefined },
    ],
  };

  it('is recorded by the status poll from the dashboard', () => {
    const [api, web] = recordedProjects(cell);
    expect(api).toMatchObject({ waitingInOctopus: true, state: 'Queued' });
    expect(web).not.toHaveProperty('waitingInOctopus');
  });

  it('shows on the set matrix with the link to answer it', () => {
    const projects = recordedProjects(cell).map((p) => ({
      ...p,
      taskUrl: `https://octopus.example/app#/Spaces-1/tasks/${p.taskId ?? ''}`,
    }));
    const out = String(
      renderSets(
        {
          lastPoll: { at: '2026-12-02T09:01:00Z' },
          problems: [],
          sets: [
            {
              set: 'web',
              description: undefined,
              space: 'Default',
              projects: ['API', 'Web'],
              problem: undefined,
              cells: [
                {
                  environment: 'Production',
                  environmentOrder: 0,
                  tenant: null,
                  state: 'deploying',
                  since: '2026-12-02T09:00:00Z',
                  projects,
                },
              ],
            },
          ],
        } as unknown as Parameters<typeof renderSets>[0],
        new Date('2026-12-02T09:02:00Z'),
      ),
    );
    expect(out.match(/waiting for someone in Octopus/g)).toHaveLength(1);
    expect(out).toMatch(
      /<a href="https:\/\/octopus\.example\/app#\/Spaces-1\/tasks\/ServerTasks-1"[^>]*>answer it there<\/a>/,
    );
  });
});
