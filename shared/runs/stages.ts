// Stage progression: start a stage's actions together, move them on, and go to the next stage once all have finished well.
import { progressAction, startAction } from './actionProgress.js';
import { finish } from './finish.js';
import { iso, note, type Ctx } from './stepContext.js';
import { stageFailure } from './stopping.js';
import { isFinishedAction } from './types.js';

export function stepStages(ctx: Ctx): void {
  const { s, now } = ctx;
  for (let guard = 0; guard < s.stages.length + 1 && s.status === 'running'; guard++) {
    const stage = s.stages[s.stageIndex];
    if (!stage) {
      finish(ctx, 'succeeded');
      return;
    }
    if (stage.status === 'pending') {
      stage.status = 'running';
      stage.startedAt = iso(now);
      note(ctx, `Stage "${stage.name}" started.`);
      for (const a of stage.actions) startAction(ctx, a);
    }
    for (const a of stage.actions) progressAction(ctx, a);
    stageFailure(ctx);
    if (s.status !== 'running') return;
    if (!stage.actions.every((a) => isFinishedAction(a.status))) return;
    stage.status = 'succeeded';
    stage.finishedAt = iso(now);
    note(ctx, `Stage "${stage.name}" succeeded.`);
    s.stageIndex += 1;
  }
}
