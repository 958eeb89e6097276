// Runs for the page: one summary query, then the full state of the few shown (in parallel).
import { RunStore } from '../runs/store.js';
import { isTerminalRunStatus } from '../runs/types.js';
import { runView, type ActionView, type RunView } from '../runs/view.js';
import type { TableStore } from '../storage/tableStore.js';
import type { RunsSection } from './model.js';

export interface RunsLimits {
  /** Runs in progress shown stage by stage. */
  active: number;
  /** Finished runs shown stage by stage. */
  recent: number;
}

export const defaultRunsLimits: RunsLimits = { active: 10, recent: 5 };

/** Fill the Octopus link of actions whose task is known but whose link was not recorded yet. */
export function withTaskLinks(
  view: RunView,
  taskUrl: (taskId: string) => string | undefined,
): RunView {
  const fill = (a: ActionView): ActionView =>
    a.taskLink || !a.taskId ? a : { ...a, taskLink: taskUrl(a.taskId) };
  return {
    ...view,
    stages: view.stages.map((s) => ({ ...s, actions: s.actions.map(fill) })),
    onFailure: {
      ...view.onFailure,
      steps: view.onFailure.steps.map((st) => ({ ...st, actions: st.actions.map(fill) })),
    },
  };
}

export async function readRuns(
  tables: TableStore,
  limits: RunsLimits = defaultRunsLimits,
): Promise<RunsSection> {
  const store = new RunStore(tables);
  const summaries = await store.list();
  const inProgress = summaries.filter((r) => !isTerminalRunStatus(r.status));
  const finished = summaries.filter((r) => isTerminalRunStatus(r.status));
  const shown = [...inProgress.slice(0, limits.active), ...finished.slice(0, limits.recent)];
  const stored = await Promise.all(shown.map((r) => store.get(r.id)));
  const active: RunView[] = [];
  const recent: RunView[] = [];
  for (const run of stored) {
    if (!run) continue;
    const view = runView(run.state);
    (isTerminalRunStatus(run.state.status) ? recent : active).push(view);
  }
  return { active, recent, notShown: summaries.length - active.length - recent.length };
}
