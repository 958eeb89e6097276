// The emails a watch sends: what happened, which releases, when, by whom, and a link to each task.
import type { MailMessage } from '../mail/index.js';
import { escapeHtml } from '../html/html.js';
import type { AnnouncedRelease, WatchNotice } from './evaluate.js';

export interface ReleaseDetails {
  /** Who started each deployment, by deployment id (from Octopus; missing when it could not be read). */
  deployedBy: Map<string, string>;
  /** The Octopus web page of a task. */
  taskUrl: (spaceId: string, taskId: string) => string | undefined;
  /** Where the coordinator's status page is, when PUBLIC_URL is set. */
  statusUrl: string | undefined;
}

function when(iso: string | null): string {
  if (!iso) return 'not finished';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function where(notice: WatchNotice): string {
  if (notice.tenant === null) return notice.environment;
  return `${notice.environment} for ${notice.tenant}`;
}

interface Line {
  project: string;
  version: string;
  at: string;
  by: string;
  url: string | undefined;
}

function lines(notice: WatchNotice, details: ReleaseDetails): Line[] {
  return notice.releases.map((r: AnnouncedRelease) => ({
    project: r.tenant && notice.tenant === 'all tenants' ? `${r.project} (${r.tenant})` : r.project,
    version: r.version,
    at: when(r.completedTime),
    by: details.deployedBy.get(r.deploymentId) ?? 'unknown',
    url: details.taskUrl(notice.spaceId, r.taskId),
  }));
}

function table(rows: Line[]): { text: string; html: string } {
  const text = rows
    .map(
      (l) =>
        `  ${l.project}  ${l.version}  deployed ${l.at} by ${l.by}${l.url ? `\n    ${l.url}` : ''}`,
    )
    .join('\n');
  const html =
    '<table cellpadding="4" style="border-collapse:collapse"><tr><th align="left">Project</th><th align="left">Release</th><th align="left">Finished</th><th align="left">By</th><th align="left">Task</th></tr>' +
    rows
      .map(
        (l) =>
          `<tr><td>${escapeHtml(l.project)}</td><td>${escapeHtml(l.version)}</td><td>${escapeHtml(l.at)}</td><td>${escapeHtml(l.by)}</td><td>${l.url ? `<a href="${escapeHtml(l.url)}">task log</a>` : ''}</td></tr>`,
      )
      .join('') +
    '</table>';
  return { text, html };
}

export function watchMessage(notice: WatchNotice, details: ReleaseDetails): MailMessage {
  const rows = lines(notice, details);
  const { text: list, html: listHtml } = table(rows);
  const footer = `This is watch "${notice.watch.name}" of the Octopus Coordinator.${details.statusUrl ? ` Current status: ${details.statusUrl}` : ''}`;
  if (notice.kind === 'live') {
    const versions =
      notice.releases.length <= 4
        ? `: ${rows.map((l) => `${l.project} ${l.version}`).join(', ')}`
        : '';
    const intro = `Every project of the set ${notice.set} now has a successful current deployment in ${where(notice)}.`;
    const next =
      'You get one email per combination of releases; the next comes when the set is live with a new combination.';
    return {
      to: notice.watch.recipients,
      category: 'set-deployed',
      subject: `${notice.set} is live in ${where(notice)}${versions}`,
      text: `${intro}\n\n${list}\n\n${next}\n${footer}\n`,
      html: `<p>${escapeHtml(intro)}</p>${listHtml}<p>${escapeHtml(next)}</p><p style="color:#666">${escapeHtml(footer)}</p>`,
    };
  }
  const failed = notice.releases[0];
  const project = failed?.project ?? 'A project';
  const error = failed?.errorMessage
    ? `Octopus says: ${failed.errorMessage}`
    : 'Octopus gave no error message.';
  const intro = `The deployment of ${project} ${failed?.version ?? ''} to ${where(notice)} ${failed?.state === 'TimedOut' ? 'timed out' : 'failed'}, so the set ${notice.set} is not complete there.`;
  const next = `Open the task log to see why; the set counts as live again once ${project} has a successful deployment in ${notice.environment}.`;
  return {
    to: notice.watch.recipients,
    category: 'set-deployment-failed',
    subject: `${project} ${failed?.version ?? ''} failed in ${where(notice)} (set ${notice.set})`,
    text: `${intro}\n${error}\n\n${list}\n\n${next}\n${footer}\n`,
    html: `<p>${escapeHtml(intro)}</p><p>${escapeHtml(error)}</p>${listHtml}<p>${escapeHtml(next)}</p><p style="color:#666">${escapeHtml(footer)}</p>`,
  };
}
