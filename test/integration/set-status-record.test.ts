// Recording each set's status costs storage in proportion to change, not to configuration: a poll
// of 100 sets with nothing changed is one read of what is stored plus the last-poll row (issue 16
// item 3), and a cell that changed is still rewritten (also when only a few sets are recorded, as
// the webhook's watch pass does, and when another instance rewrote the row in between).
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import type { DashboardItem } from '../../shared/octopus/dashboard.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import {
  cellRowKey,
  readSetStatusRows,
  recordSetStatus,
  setPartition,
  setStatusTable,
} from '../../shared/status/record.js';
import type { SetCell, SetCellState, StatusSnapshot } from '../../shared/status/snapshot.js';
import { dashboardItem } from '../helpers/statusReads.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const sets = Array.from({ length: 100 }, (_, i) => `set${String(i).padStart(3, '0')}`);
let runtime: Runtime;

const item = (n: number, state: DashboardItem['State']): DashboardItem =>
  dashboardItem(n, { EnvironmentId: 'Environments-1', State: state });

function cell(set: string, environment: string, deployment: number, state: SetCellState): SetCell {
  return {
    set,
    space: 'Default',
    spaceId: 'Spaces-1',
    environment,
    environmentId: `Environments-${environment}`,
    tenant: null,
    state,
    environmentOrder: environment === 'Test' ? 0 : 1,
    projects: [
      {
        project: `${set} api`,
        projectId: `Projects-${deployment}`,
        current: item(deployment, state === 'complete' ? 'Success' : 'Executing'),
        lastSuccessful: undefined,
      },
    ],
  };
}

function snapshot(cells: SetCell[]): StatusSnapshot {
  return {
    takenAt: new Date('2026-11-20T10:05:00Z'),
    spaces: [],
    problems: [],
    octopusCalls: 1,
    cells,
  };
}

const everyCell = (changed?: { set: string; deployment: number }): SetCell[] =>
  sets.flatMap((set, i) => [
    cell(set, 'Test', i, 'complete'),
    changed?.set === set
      ? cell(set, 'Production', changed.deployment, 'deploying')
      : cell(set, 'Production', 1000 + i, 'complete'),
  ]);

beforeAll(async () => {
  runtime = await createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString() },
    tablePrefix: uniqueTablePrefix(),
    config: parseCoordinationConfig({
      space: 'Default',
      projectSets: Object.fromEntries(sets.map((s) => [s, { projects: [`${s} api`] }])),
    }),
  });
  expect(await recordSetStatus(runtime, snapshot(everyCell()))).toBe(200);
});

describe('recording set status', () => {
  it('costs one read and the last-poll write for 100 sets when nothing changed', async () => {
    runtime.tables.roundTrips.reset();
    expect(await recordSetStatus(runtime, snapshot(everyCell()))).toBe(0);
    // Before: one partition read per set, 101 requests.
    expect(runtime.tables.roundTrips.count).toBe(2);
  });

  it('rewrites only the cell that changed, and readers see the new state', async () => {
    expect(
      await recordSetStatus(runtime, snapshot(everyCell({ set: 'set042', deployment: 5000 }))),
    ).toBe(1);
    const { rows } = await readSetStatusRows(runtime, 'set042');
    const production = rows.find((r) => r.environment === 'Production');
    expect(production?.state).toBe('deploying');
    expect(production?.projects[0]?.deploymentId).toBe('Deployments-5000');
  });

  it('rewrites a changed cell when only a few sets are recorded (one partition read each)', async () => {
    runtime.tables.roundTrips.reset();
    const written = await recordSetStatus(
      runtime,
      snapshot([
        cell('set007', 'Production', 7000, 'deploying'),
        cell('set008', 'Production', 1008, 'complete'),
      ]),
    );
    expect(written).toBe(1);
    expect(runtime.tables.roundTrips.count).toBe(2 + 1 + 1); // two reads, one write, last poll
    const { rows } = await readSetStatusRows(runtime, 'set007');
    expect(rows.find((r) => r.environment === 'Production')?.projects[0]?.deploymentId).toBe(
      'Deployments-7000',
    );
  });

  it('leaves a row another instance rewrote after the read (the etag no longer matches)', async () => {
    await recordSetStatus(runtime, snapshot(everyCell())); // back to the first reading
    const table = await runtime.tables.table(setStatusTable);
    const key = { partitionKey: setPartition('set009'), rowKey: cellRowKey('Test', null) };
    // Another instance's newer reading lands between this poll's read and its write.
    const originalList = table.listEntities.bind(table);
    let raced = false;
    table.listEntities = ((options?: Parameters<typeof table.listEntities>[0]) => {
      const rows = originalList(options);
      return {
        ...rows,
        async *[Symbol.asyncIterator]() {
          let sawIt = false;
          for await (const row of rows) {
            if (row.partitionKey === key.partitionKey) sawIt = true;
            yield row;
          }
          if (sawIt && !raced) {
            raced = true;
            await table.updateEntity({ ...key, fingerprint: 'newer' }, 'Merge');
          }
        },
      } as unknown as typeof rows;
    }) as typeof table.listEntities;
    try {
      const written = await recordSetStatus(
        runtime,
        snapshot(
          everyCell().map((c) =>
            c.set === 'set009' && c.environment === 'Test'
              ? cell('set009', 'Test', 9000, 'deploying')
              : c,
          ),
        ),
      );
      expect(written).toBe(0);
    } finally {
      table.listEntities = originalList;
    }
    const row = await table.getEntity<{ fingerprint: string }>(key.partitionKey, key.rowKey);
    expect(row.fingerprint).toBe('newer');
  });
});
