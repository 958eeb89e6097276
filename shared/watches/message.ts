// The emails a watch sends: what happened, which releases, when (in the configured zone), by whom,
// a link to each task and, with PUBLIC_URL, to the status page; laid out like every other email.
import { dataTable, emailDocument, emailLink, paragraph } from '../html/emailLayout.js';
import type { MailMessage } from '../mail/mailer.js';
import { readableTime } from '../time/zones.js';
import type { AnnouncedRelease, WatchNotice } from './evaluate.js';

export interface ReleaseDetails {
  /** Who started each deployment, by deployment id (from Octopus; missing when it could not be read). */
  deployedBy: Map<string, string>;
  /** The Octopus web page of a task. */
  taskUrl: (spaceId: string, taskId: string) => string | undefined;
  /** Where the coordinator's status page shows this set, when PUBLIC_URL is set. */
  statusUrl: string | undefined;
  /** The zone times are shown in (REPORT_TIME_ZONE). */
  timeZone: string;
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
    at: r.completedTime ? readableTime(r.completedTime, details.timeZone) : 'not finished',
    by: details.deployedBy.get(r.deploymentId) ?? 'unknown',
    url: details.taskUrl(notice.spaceId, r.taskId),
  }));
}

function textTable(rows: Line[]): string {
  return rows
    .map(
      (l) =>
        `  ${l.project}  ${l.version}\n    finished ${l.at}, deployed by ${l.by}${l.url ? `\n    task log: ${l.url}` : ''}`,
    )
    .join('\n');
}

function htmlTable(rows: Line[]) {
  return dataTable(
    ['Project', 'Release', 'Finished', 'By', 'Task'],
    rows.map((l) => [l.project, l.version, l.at, l.by, l.url ? emailLink(l.url, 'task log') : '']),
  );
}

function footerOf(notice: WatchNotice, details: ReleaseDetails): { text: string; html: string } {
  const text = `You get this because you are a recipient of watch "${notice.watch.name}" of the Octopus Coordinator. Times are in ${details.timeZone}.`;
  return { text, html: text };
}

export function watchMessage(notice: WatchNotice, details: ReleaseDetails): MailMessage {
  const rows = lines(notice, details);
  const footer = footerOf(notice, details);
  const statusLine = details.statusUrl ? `Status page: ${details.statusUrl}\n` : '';
  const action = details.statusUrl
    ? { url: details.statusUrl, text: `See ${notice.set} on the status page` }
    : undefined;
  if (notice.kind === 'live') {
    const versions =
      notice.releases.length <= 4
        ? `: ${rows.map((l) => `${l.project} ${l.version}`).join(', ')}`
        : '';
    const subject = `${notice.set} is live in ${where(notice)}${versions}`;
    const intro = `Every project of the set ${notice.set} now has a successful current deployment in ${where(notice)}.`;
    const next =
      'You get one email per combination of releases; the next comes when the set is live with a new combination.';
    return {
      to: notice.watch.recipients,
      category: 'set-deployed',
      subject,
      text: `${intro}\n\n${textTable(rows)}\n\n${next}\n${statusLine}\n-- \n${footer.text}\n`,
      html: emailDocument({
        title: `${notice.set} is live in ${where(notice)}`,
        tone: 'good',
        body: [paragraph(intro), htmlTable(rows), paragraph(next)],
        action,
        footer: footer.html,
      }),
    };
  }
  const failed = notice.releases[0];
  const project = failed?.project ?? 'A project';
  const version = failed?.version ? ` ${failed.version}` : '';
  const verb = failed?.state === 'TimedOut' ? 'timed out' : 'failed';
  const error = failed?.errorMessage
    ? `Octopus says: ${failed.errorMessage}`
    : 'Octopus gave no error message.';
  const intro = `The deployment of ${project}${version} to ${where(notice)} ${verb}, so the set ${notice.set} is not complete there.`;
  const next = `Open the task log to see why; the set counts as live again once ${project} has a successful deployment in ${notice.environment}.`;
  return {
    to: notice.watch.recipients,
    category: 'set-deployment-failed',
    subject: `${project}${version} ${verb} in ${where(notice)} (set ${notice.set})`,
    text: `${intro}\n${error}\n\n${textTable(rows)}\n\n${next}\n${statusLine}\n-- \n${footer.text}\n`,
    html: emailDocument({
      title: `${project}${version} ${verb} in ${where(notice)}`,
      tone: 'bad',
      body: [paragraph(intro), paragraph(error, 'bad'), htmlTable(rows), paragraph(next)],
      action,
      footer: footer.html,
    }),
  };
}
