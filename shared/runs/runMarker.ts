// The marker stamped into the Comments of every deployment (and runbook run) a run creates, so a crashed run finds them again.

/** The marker for one attempt of one action of a run. */
export function runMarker(runId: string, actionId: string, attempt: number): string {
  return `coordinator run=${runId} action=${actionId} attempt=${attempt}`;
}

/** Read a marker back from Comments (undefined when the text carries none). */
export function parseRunMarker(
  comments: string | null | undefined,
): { runId: string; actionId: string; attempt: number } | undefined {
  const m = /coordinator run=(\S+) action=(\S+) attempt=(\d+)/.exec(comments ?? '');
  return m && m[1] && m[2] ? { runId: m[1], actionId: m[2], attempt: Number(m[3]) } : undefined;
}
