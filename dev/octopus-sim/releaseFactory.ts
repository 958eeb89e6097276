// Creates releases for the control API and live mode (the next patch version by default).
import {
  defaultChannel,
  find,
  idNumber,
  nextId,
  type ReleaseRecord,
  type SimState,
} from './store.js';

export function nextVersion(state: SimState, projectId: string): string {
  const newest = state.releases
    .filter((r) => r.projectId === projectId)
    .sort((a, b) => b.assembled - a.assembled || idNumber(b.id) - idNumber(a.id))[0];
  if (!newest) return '1.0.0';
  const match = /^(.*?)(\d+)([^\d]*)$/.exec(newest.version);
  if (!match) return `${newest.version}.1`;
  const [, head, number, tail] = match;
  let candidate = `${head ?? ''}${Number(number) + 1}${tail ?? ''}`;
  while (state.releases.some((r) => r.projectId === projectId && r.version === candidate))
    candidate = `${candidate}.1`;
  return candidate;
}

export function createRelease(
  state: SimState,
  request: { project: string; version?: string; channel?: string; releaseNotes?: string },
  at: number,
): ReleaseRecord {
  const project = find.project(state, request.project);
  if (!project)
    throw new Error(
      `There is no project "${request.project}" in the scenario; use a project name or id that exists.`,
    );
  const channel = request.channel
    ? state.channels.find(
        (c) =>
          c.projectId === project.id &&
          (c.id === request.channel || c.name.toLowerCase() === request.channel?.toLowerCase()),
      )
    : defaultChannel(state, project.id);
  if (!channel)
    throw new Error(`Project ${project.name} has no channel "${request.channel ?? 'Default'}".`);
  const version = request.version ?? nextVersion(state, project.id);
  if (state.releases.some((r) => r.projectId === project.id && r.version === version))
    throw new Error(
      `Release ${version} of ${project.name} already exists; choose another version.`,
    );
  const release: ReleaseRecord = {
    id: nextId(state, 'Releases'),
    version,
    projectId: project.id,
    channelId: channel.id,
    assembled: at,
    releaseNotes: request.releaseNotes ?? '',
  };
  state.releases.push(release);
  return release;
}
