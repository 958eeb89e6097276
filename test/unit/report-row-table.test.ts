// The report's row table: what a row's view reads is what was written, whatever form its ids take.
import { describe, expect, it } from 'vitest';
import { DeploymentSlots } from '../../shared/report/gather.js';
import { idNumber, RowTable, type TaskFacts } from '../../shared/report/rowTable.js';

function task(overrides: Partial<TaskFacts>): TaskFacts {
  return {
    taskId: 'ServerTasks-1',
    deploymentId: 'Deployments-1',
    state: 'Success',
    outcome: 'Success',
    started: 1_700_000_000_000,
    completed: 1_700_000_090_500,
    queued: 1_699_999_999_000,
    error: '',
    projectId: 'Projects-1',
    taskUrl: undefined,
    ...overrides,
  };
}

describe('idNumber', () => {
  it('reads only ids that String(number) writes back the same', () => {
    expect(idNumber('ServerTasks-', 'ServerTasks-0')).toBe(0);
    expect(idNumber('ServerTasks-', 'ServerTasks-9622723535')).toBe(9622723535);
    expect(idNumber('ServerTasks-', 'ServerTasks-999999999999999')).toBe(999999999999999);
    for (const odd of [
      'ServerTasks-',
      'ServerTasks-007',
      'ServerTasks-1234567890123456',
      'ServerTasks-12a',
      'ServerTasks-1.5',
      'ServerTasks--1',
      'servertasks-1',
      'ServerTasks-1 ',
      '',
    ])
      expect(idNumber('ServerTasks-', odd), odd).toBeNaN();
  });
});

describe('RowTable', () => {
  it('reads back every field of every row, ids of any form, across growth', () => {
    const table = new RowTable('Default', 'https://o.example/app#/Spaces-1/tasks/', 2);
    const inputs: TaskFacts[] = [
      task({}),
      task({
        taskId: 'ServerTasks-007',
        deploymentId: '',
        state: 'Cancelling',
        outcome: 'Other',
        started: undefined,
        queued: Number.NaN,
        error: 'Stuck <here>',
        projectId: undefined,
        taskUrl: 'https://elsewhere.example/task?id=ServerTasks-007',
      }),
      task({
        taskId: 'ServerTasks-1234567890123456',
        deploymentId: 'Deployments-00',
        state: 'Failed',
        outcome: 'Failed',
        error: 'Step failed',
      }),
      task({
        taskId: 'ServerTasks-42',
        deploymentId: 'deployments-42',
        state: 'TimedOut',
        outcome: 'TimedOut',
      }),
    ];
    for (const input of inputs) table.add(input);
    table.setProject(0, 'Web API');
    table.setDeployment(0, {
      environment: 'Production',
      environmentOrder: 3,
      tenant: 'Acme Corp',
      version: '2.4.0',
      deployedBy: 'sam.lee',
    });
    table.setProject(2, 'Database');
    expect(table.length).toBe(4);
    const rows = table.rows();
    const plain = rows.map((r) => ({
      space: r.space,
      deploymentId: r.deploymentId,
      taskId: r.taskId,
      project: r.project,
      environment: r.environment,
      environmentOrder: r.environmentOrder,
      tenant: r.tenant,
      version: r.version,
      outcome: r.outcome,
      state: r.state,
      started: r.started,
      completed: r.completed,
      durationMs: r.durationMs,
      deployedBy: r.deployedBy,
      error: r.error,
      taskUrl: r.taskUrl,
    }));
    const unknown = {
      project: 'unknown project',
      environment: 'unknown environment',
      environmentOrder: Number.MAX_SAFE_INTEGER,
      tenant: undefined,
      version: '',
      deployedBy: 'unknown',
    };
    expect(plain).toEqual([
      {
        space: 'Default',
        deploymentId: 'Deployments-1',
        taskId: 'ServerTasks-1',
        project: 'Web API',
        environment: 'Production',
        environmentOrder: 3,
        tenant: 'Acme Corp',
        version: '2.4.0',
        outcome: 'Success',
        state: 'Success',
        started: 1_700_000_000_000,
        completed: 1_700_000_090_500,
        durationMs: 90_500,
        deployedBy: 'sam.lee',
        error: '',
        taskUrl: 'https://o.example/app#/Spaces-1/tasks/ServerTasks-1',
      },
      {
        ...unknown,
        space: 'Default',
        deploymentId: '',
        taskId: 'ServerTasks-007',
        outcome: 'Other',
        state: 'Cancelling',
        started: undefined,
        completed: 1_700_000_090_500,
        durationMs: undefined,
        error: 'Stuck <here>',
        taskUrl: 'https://elsewhere.example/task?id=ServerTasks-007',
      },
      {
        ...unknown,
        project: 'Database',
        space: 'Default',
        deploymentId: 'Deployments-00',
        taskId: 'ServerTasks-1234567890123456',
        outcome: 'Failed',
        state: 'Failed',
        started: 1_700_000_000_000,
        completed: 1_700_000_090_500,
        durationMs: 90_500,
        error: 'Step failed',
        taskUrl: 'https://o.example/app#/Spaces-1/tasks/ServerTasks-1234567890123456',
      },
      {
        ...unknown,
        space: 'Default',
        deploymentId: 'deployments-42',
        taskId: 'ServerTasks-42',
        outcome: 'TimedOut',
        state: 'TimedOut',
        started: 1_700_000_000_000,
        completed: 1_700_000_090_500,
        durationMs: 90_500,
        error: '',
        taskUrl: 'https://o.example/app#/Spaces-1/tasks/ServerTasks-42',
      },
    ]);
    expect(table.taskProjectId(0)).toBe('Projects-1');
    expect(table.taskProjectId(1)).toBeUndefined();
    expect(Number.isNaN(table.queued[1])).toBe(true);
    expect(table.rows([3, 0]).map((r) => r.taskId)).toEqual(['ServerTasks-42', 'ServerTasks-1']);
  });
});

describe('DeploymentSlots', () => {
  it('gives one slot per distinct deployment id, found again by the id', () => {
    const table = new RowTable('Default', 'https://o.example/app#/Spaces-1/tasks/');
    const ids = [
      'Deployments-30',
      'Deployments-7',
      'odd-1',
      'Deployments-30',
      '',
      'Deployments-007',
    ];
    ids.forEach((deploymentId, i) => table.add(task({ taskId: `ServerTasks-${i}`, deploymentId })));
    // Tasks 0..5, all wanted but the second.
    const wanted = [0, 2, 3, 4, 5];
    const slots = new DeploymentSlots(table, wanted.length, (w) => wanted[w] ?? 0);
    expect(slots.size).toBe(3);
    expect(slots.slotOf[1]).toBe(-1);
    expect(slots.slotOf[4]).toBe(-1);
    expect(slots.slotOf[0]).toBe(slots.slotOf[3]);
    for (const task of wanted.filter((t) => ids[t] !== '')) {
      const slot = slots.slotOf[task] ?? -1;
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slots.idOf(slot)).toBe(ids[task]);
      expect(slots.find(ids[task] ?? '')).toBe(slot);
    }
    expect(slots.find('Deployments-7')).toBe(-1);
    expect(slots.find('Deployments-31')).toBe(-1);
  });
});
