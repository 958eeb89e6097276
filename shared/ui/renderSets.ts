// The matrix of project sets x environments (x tenants): each project's current release and state.
import { badge, stateClass, utc, when } from './format.js';
import { html, link, type SafeHtml } from '../html/html.js';
import type { MatrixCell, SetMatrix, SetsSection } from './model.js';

const setStateText: Record<MatrixCell['state'], string> = {
  complete: 'set complete',
  deploying: 'deploying',
  failed: 'failed',
  incomplete: 'incomplete',
};

function column(cell: MatrixCell, now: Date): SafeHtml {
  return html`<th scope="col">
    ${cell.environment}${cell.tenant ? html`<br /><small>${cell.tenant}</small>` : ''}
    <br />${badge(cell.state, setStateText[cell.state])}<br /><small
      >since ${when(cell.since, now)}</small
    >${cell.train ? trainLine(cell.train, now) : ''}
  </th>`;
}

/** The live train of a column: its id and whether it is verified (and when), or until when it soaks. */
function trainLine(train: NonNullable<MatrixCell['train']>, now: Date): SafeHtml {
  const state =
    train.state === 'verified'
      ? html`${badge('Success', 'verified')} <small>${when(train.verifiedAt ?? '', now)}</small>`
      : train.state === 'soaking'
        ? html`${badge('Executing', 'soaking')}
            <small>until ${when(train.soakEndsAt ?? '', now)}</small>`
        : html`${badge('Failed', 'interrupted')}`;
  return html`<br /><small class="train" title="${train.id}"
      >train ${train.id.split('@')[1] ?? train.id}</small
    ><br />${state}`;
}

function projectCell(cell: MatrixCell, project: string, now: Date): SafeHtml {
  const p = cell.projects.find((x) => x.project === project);
  if (!p || !p.release) return html`<td class="bad"><span class="empty">not deployed</span></td>`;
  return html`<td class="${stateClass(p.state)}">
    <span class="version">${p.release}</span> ${badge(p.state)}${
      p.waitingInOctopus
        ? html`<br /><strong>waiting for someone in Octopus</strong>
            ${link(p.taskUrl, 'answer it there')}`
        : ''
    }<br /><small
      >${link(p.taskUrl, p.taskId ? 'task' : '')}${p.taskId && (p.completedTime ?? p.created) ? ' · ' : ''}${when(p.completedTime ?? p.created, now)}</small
    >
  </td>`;
}

function setMatrix(set: SetMatrix, now: Date): SafeHtml {
  const heading = html`<h3 id="set-${set.set}">
    ${set.set} ${set.description ? html` <small>${set.description}</small>` : ''}
    <small>(space ${set.space})</small>
  </h3>`;
  const problem = set.problem
    ? html`<p class="notice bad">The last status poll could not read this set: ${set.problem}</p>`
    : '';
  if (set.cells.length === 0)
    return html`${heading}${problem}
      <p class="empty">
        No status recorded for this set yet: the status poll records it on its next run.
      </p>`;
  const rows = set.projects.map(
    (project) =>
      html`<tr>
        <th scope="row">${project}</th>
        ${set.cells.map((c) => projectCell(c, project, now))}
      </tr>`,
  );
  return html`${heading}${problem}
    <div class="scroll">
      <table class="matrix">
        <thead>
          <tr>
            <th scope="col">Project</th>
            ${set.cells.map((c) => column(c, now))}
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
    </div>`;
}

export function renderSets(section: SetsSection, now: Date): SafeHtml {
  const poll = section.lastPoll
    ? html`<p class="muted">
        As recorded by the status poll ${when(section.lastPoll.at, now)}
        (${utc(section.lastPoll.at)}).
      </p>`
    : html`<p class="notice">
        The status poll has not run yet, so no set status is recorded. It runs every minute; the
        page shows the sets once it has.
      </p>`;
  const problems = section.problems.map(
    (p) => html`<p class="notice bad">The last status poll had a problem: ${p}</p>`,
  );
  const sets =
    section.sets.length === 0
      ? html`<p class="empty">
          No project sets are configured (projectSets in the coordination config).
        </p>`
      : section.sets.map((s) => setMatrix(s, now));
  return html`${poll}${problems}${sets}`;
}
