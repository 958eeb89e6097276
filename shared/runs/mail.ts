// The "run finished" email: what happened, stage by stage and action by action, and what to do next.
import type { MailMessage } from '../mail/index.js';
import { actionView, type ActionView } from './view.js';
import type { RunState } from './types.js';

function outcome(run: RunState): { headline: string; advice: string } {
  const name = `${run.plan.kind === 'playbook' ? 'Playbook' : 'Promotion'} "${run.plan.name}"`;
  const rolledBack = run.onFailure.status === 'succeeded';
  const rollbackFailed = run.onFailure.status === 'failed';
  switch (run.status) {
    case 'succeeded':
      return { headline: `${name} succeeded`, advice: 'Nothing to do.' };
    case 'cancelled':
      return {
        headline: `${name} was cancelled${rolledBack ? ' and its onFailure actions ran' : rollbackFailed ? '; its onFailure actions failed' : ''}`,
        advice: rollbackFailed
          ? 'Some onFailure actions failed: check the environments listed below in Octopus and put them right by hand.'
          : 'The Octopus tasks the run had started were cancelled. Start the run again when ready.',
      };
    default:
      return {
        headline: `${name} failed${rolledBack ? ' and was rolled back' : rollbackFailed ? ' and rolling back failed too' : ''}`,
        advice: rollbackFailed
          ? 'Rolling back did not finish: check the environments listed below in Octopus and put them right by hand.'
          : 'See why below (and the Octopus task log), fix the cause, then start the run again.',
      };
  }
}

function line(a: ActionView): string {
  const what = a.describe;
  const release = a.release ? ` ${a.release.version}` : '';
  const detail = a.error ?? a.note;
  const link = a.taskLink ? ` <${a.taskLink}>` : '';
  return `  - ${what}${release}: ${a.status}${detail ? ` (${detail})` : ''}${link}`;
}

const escape = (text: string): string =>
  text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );

export function runFinishedMail(run: RunState): Pick<MailMessage, 'subject' | 'text' | 'html'> {
  const { headline, advice } = outcome(run);
  const text: string[] = [`${headline}.`, ''];
  if (run.failure) text.push(`Why: ${run.failure.message}`);
  if (run.cancel)
    text.push(
      `Cancelled${run.cancel.by ? ` by ${run.cancel.by}` : ''}${run.cancel.reason ? `: ${run.cancel.reason}` : ''}.`,
    );
  text.push(
    `What to do: ${advice}`,
    '',
    `Run ${run.id}, started ${run.createdAt}, finished ${run.finishedAt ?? '-'}.`,
    '',
  );
  for (const stage of run.stages) {
    text.push(`Stage "${stage.name}": ${stage.status}`);
    stage.actions.forEach((a) => text.push(line(actionView(a))));
  }
  if (run.onFailure.status !== 'notRun' && run.onFailure.status !== 'skipped') {
    text.push(`onFailure: ${run.onFailure.status}`);
    run.onFailure.steps.forEach((step) =>
      step.actions.forEach((a) => text.push(line(actionView(a)))),
    );
  }
  const before = run.previous.cells.filter((c) => c.lastSuccessful);
  if (before.length > 0) {
    text.push('', 'Releases before the run:');
    before.forEach((c) =>
      text.push(
        `  - ${c.project} in ${c.environment}${c.tenant ? ` for ${c.tenant}` : ''}: ${c.lastSuccessful?.version ?? ''}`,
      ),
    );
  }
  const plain = text.join('\n');
  const linked = escape(plain).replace(
    /&lt;(https?:\/\/[^\s&]+)&gt;/g,
    (_m, url: string) => `<a href="${url}">task log</a>`,
  );
  const html = `<!doctype html><html><body style="font-family:sans-serif"><h2>${escape(headline)}</h2><pre style="font-family:inherit">${linked}</pre></body></html>`;
  return { subject: `${headline} (run ${run.id})`, text: plain, html };
}
