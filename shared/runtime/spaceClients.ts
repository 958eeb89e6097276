// One Octopus client per space: the runtime's client serves OCTOPUS_SPACE; sets in other spaces get their own.
import { createOctopusClient, type OctopusClient } from '../octopus/client.js';
import { taskPageUrl } from '../octopus/links.js';
import type { Runtime } from './runtime.js';

const clients = new WeakMap<Runtime, Map<string, OctopusClient>>();

/** The space a project set lives in: its own, else the config's, else OCTOPUS_SPACE. */
export function spaceOfSet(runtime: Runtime, setName: string): string {
  return (
    runtime.config.projectSets[setName]?.space ??
    runtime.config.space ??
    runtime.settings.octopusSpace
  );
}

/** The client for a space, made once per runtime; undefined when Octopus is not configured. */
export function octopusForSpace(runtime: Runtime, space: string): OctopusClient | undefined {
  const settings = runtime.settings.octopus;
  if (!runtime.octopus || !settings) return undefined;
  if (space.toLowerCase() === settings.space.toLowerCase()) return runtime.octopus;
  let bySpace = clients.get(runtime);
  if (!bySpace) {
    bySpace = new Map();
    clients.set(runtime, bySpace);
  }
  const key = space.toLowerCase();
  let client = bySpace.get(key);
  if (!client) {
    client = createOctopusClient({ url: settings.url, apiKey: settings.apiKey, space });
    bySpace.set(key, client);
  }
  return client;
}

/** Every Octopus call this runtime has made, across its per-space clients. */
export function octopusCallsMade(runtime: Runtime): number {
  let total = runtime.octopus?.calls.total ?? 0;
  for (const client of clients.get(runtime)?.values() ?? []) total += client.calls.total;
  return total;
}

/** The Octopus web page of a task (see taskPageUrl); undefined when Octopus is not configured. */
export function taskWebUrl(runtime: Runtime, spaceId: string, taskId: string): string | undefined {
  const url = runtime.settings.octopus?.url;
  return url ? taskPageUrl(url, spaceId, taskId) : undefined;
}
