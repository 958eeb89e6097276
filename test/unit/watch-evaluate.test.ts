// What a watch announces, decided from status cells alone: combinations, release rules, tenant modes.
import { describe, expect, it } from 'vitest';
import { watch as watchSchema } from '../../shared/config/coordination/watches.js';
import type { DashboardItem } from '../../shared/octopus/dashboard.js';
import { cellState, type SetCell } from '../../shared/status/snapshot.js';
import { watchNotices } from '../../shared/watches/evaluate.js';

function item(
  project: string,
  version: string,
  state = 'Success',
  tenant: string | null = null,
): DashboardItem {
  const id = `Deployments-${project}-${version}-${tenant ?? 'none'}`;
  return {
    Id: id,
    DeploymentId: id,
    ProjectId: project,
    EnvironmentId: 'Environments-1',
    TenantId: tenant,
    ReleaseId: `Releases-${project}-${version}`,
    ReleaseVersion: version,
    TaskId: `ServerTasks-${project}`,
    State: state,
    IsCurrent: true,
    IsPrevious: false,
    CompletedTime: '2026-08-05T09:01:10.000+00:00',
  };
}

function cell(
  versions: Record<string, string | [string, string]>,
  tenant: string | null = null,
): SetCell {
  const projects = Object.entries(versions).map(([project, v]) => {
    const [version, state] = Array.isArray(v) ? v : [v, 'Success'];
    return {
      project,
      projectId: project,
      current: item(project, version, state, tenant),
      lastSuccessful: undefined,
    };
  });
  return {
    set: 'shop',
    space: 'Default',
    spaceId: 'Spaces-1',
    environment: 'Production',
    environmentId: 'Environments-1',
    tenant: tenant ? { name: tenant, id: tenant } : null,
    projects,
    state: cellState(projects),
    environmentOrder: 0,
  };
}

const base = {
  name: 'w',
  set: 'shop',
  environments: ['Production'],
  recipients: ['a@example.com'],
};

describe('watch notices', () => {
  it('announces a complete set with a key that changes only with the combination', () => {
    const w = watchSchema.parse(base);
    const one = watchNotices(w, [cell({ Api: '1.0', Web: '2.0' })]).notices;
    const same = watchNotices(w, [cell({ Api: '1.0', Web: '2.0' })]).notices;
    const next = watchNotices(w, [cell({ Api: '1.1', Web: '2.0' })]).notices;
    expect(one).toHaveLength(1);
    expect(one[0]?.claimKey).toBe(same[0]?.claimKey);
    expect(next[0]?.claimKey).not.toBe(one[0]?.claimKey);
  });

  it('announces nothing while a member is deploying or failed, and a failure only when asked', () => {
    expect(
      watchNotices(watchSchema.parse(base), [cell({ Api: ['1.0', 'Executing'], Web: '2.0' })])
        .notices,
    ).toEqual([]);
    const failed = cell({ Api: ['1.0', 'Failed'], Web: '2.0' });
    expect(watchNotices(watchSchema.parse(base), [failed]).notices).toEqual([]);
    const notices = watchNotices(watchSchema.parse({ ...base, notifyOnFailure: true }), [
      failed,
    ]).notices;
    expect(notices.map((n) => [n.kind, n.releases[0]?.project])).toEqual([['failure', 'Api']]);
  });

  it('holds back a combination the release rule does not allow, saying why', () => {
    const same = watchSchema.parse({ ...base, releaseRule: { sameVersion: true } });
    const result = watchNotices(same, [cell({ Api: '1.0', Web: '2.0' })]);
    expect(result.notices).toEqual([]);
    expect(result.skipped[0]?.reason).toContain('differ');
    expect(watchNotices(same, [cell({ Api: '3.0', Web: '3.0' })]).notices).toHaveLength(1);
    const listed = watchSchema.parse({
      ...base,
      releaseRule: { combinations: [{ Api: '1.0', Web: '2.0' }] },
    });
    expect(watchNotices(listed, [cell({ Api: '1.0', Web: '2.0' })]).notices).toHaveLength(1);
    expect(watchNotices(listed, [cell({ Api: '1.1', Web: '2.0' })]).notices).toEqual([]);
  });

  it('tenantMode each announces per tenant; all waits for every tenant', () => {
    const acme = cell({ Billing: '1.0' }, 'Acme');
    const globexBusy = cell({ Billing: ['1.0', 'Queued'] }, 'Globex');
    const each = watchSchema.parse({ ...base, tenants: ['Acme', 'Globex'] });
    expect(watchNotices(each, [acme, globexBusy]).notices.map((n) => n.tenant)).toEqual(['Acme']);
    const all = watchSchema.parse({ ...base, tenants: ['Acme', 'Globex'], tenantMode: 'all' });
    expect(watchNotices(all, [acme, globexBusy]).notices).toEqual([]);
    const done = watchNotices(all, [acme, cell({ Billing: '1.0' }, 'Globex')]).notices;
    expect(done.map((n) => [n.tenant, n.releases.length])).toEqual([['all tenants', 2]]);
  });
});
