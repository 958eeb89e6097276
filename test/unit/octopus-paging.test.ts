import { describe, expect, it } from 'vitest';
import { collect } from '../../shared/octopus/paging.js';
import {
  normalizeDashboard,
  dashboardCell,
  type DashboardItem,
} from '../../shared/octopus/dashboard.js';
import { pagedList, type ResourceCollection } from '../../shared/octopus/paging.js';

function source(total: number, options: { cap?: number; oldServer?: boolean } = {}) {
  const requests: Array<[number, number]> = [];
  const fetch = async (skip: number, take: number): Promise<ResourceCollection<number>> => {
    requests.push([skip, take]);
    const applied = Math.min(take, options.cap ?? take);
    const items = Array.from(
      { length: Math.max(0, Math.min(applied, total - skip)) },
      (_, i) => skip + i,
    );
    return options.oldServer
      ? { Items: items }
      : { Items: items, TotalResults: total, ItemsPerPage: applied };
  };
  return { fetch, requests };
}

describe('paging', () => {
  it('steps skip by take until TotalResults', async () => {
    const s = source(7);
    expect(await collect(pagedList(s.fetch, { pageSize: 3 }))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(s.requests).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
  });

  it('stops at an exact multiple without an extra request', async () => {
    const s = source(6);
    await collect(pagedList(s.fetch, { pageSize: 3 }));
    expect(s.requests).toHaveLength(2);
  });

  it('stops on a short page on old servers without page counts', async () => {
    const s = source(5, { oldServer: true });
    expect(await collect(pagedList(s.fetch, { pageSize: 2 }))).toHaveLength(5);
    expect(s.requests).toHaveLength(3);
  });

  it('keeps reading when the server caps take below what was asked', async () => {
    const s = source(5, { cap: 2 });
    expect(await collect(pagedList(s.fetch, { pageSize: 10 }))).toEqual([0, 1, 2, 3, 4]);
  });

  it('honours maxItems', async () => {
    const s = source(100);
    expect(await collect(pagedList(s.fetch, { pageSize: 30, maxItems: 1 }))).toEqual([0]);
    expect(s.requests).toEqual([[0, 1]]);
  });
});

describe('dashboard', () => {
  const item = (over: Partial<DashboardItem>): DashboardItem => ({
    Id: 'Deployments-1',
    DeploymentId: 'Deployments-1',
    ProjectId: 'Projects-1',
    EnvironmentId: 'Environments-1',
    TenantId: null,
    ReleaseId: 'Releases-1',
    ReleaseVersion: '1.0.0',
    TaskId: 'ServerTasks-1',
    State: 'Success',
    IsCurrent: true,
    IsPrevious: false,
    ...over,
  });

  it('merges PreviousItems from old servers and finds the last successful deployment', () => {
    const dashboard = normalizeDashboard({
      Projects: [],
      Environments: [],
      Items: [item({ Id: 'Deployments-2', State: 3 as unknown as 'Failed' })],
      PreviousItems: [item({ Id: 'Deployments-1', IsCurrent: true })],
    } as Parameters<typeof normalizeDashboard>[0]);
    const cell = dashboardCell(dashboard, {
      projectId: 'Projects-1',
      environmentId: 'Environments-1',
    });
    expect(cell.current?.State).toBe('Failed');
    expect(cell.previous?.Id).toBe('Deployments-1');
    expect(cell.lastSuccessful?.Id).toBe('Deployments-1');
  });
});
