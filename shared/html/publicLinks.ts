// Addresses of the coordinator's own pages for emails and webhook bodies, from PUBLIC_URL (none without it).

function base(publicUrl: string | undefined): string | undefined {
  const trimmed = publicUrl?.trim().replace(/\/+$/, '');
  return trimmed ? trimmed : undefined;
}

/** The status page, at a set's matrix when `set` is given. */
export function statusPageUrl(publicUrl: string | undefined, set?: string): string | undefined {
  const root = base(publicUrl);
  if (!root) return undefined;
  return `${root}/api/ui${set === undefined ? '' : `#set-${encodeURIComponent(set)}`}`;
}

/** The status page at a run's entry. */
export function runPageUrl(publicUrl: string | undefined, runId: string): string | undefined {
  const root = base(publicUrl);
  return root ? `${root}/api/ui#run-${encodeURIComponent(runId)}` : undefined;
}

/** The run's full record in the HTTP API (`GET /api/runs/{id}`). */
export function runApiUrl(publicUrl: string | undefined, runId: string): string | undefined {
  const root = base(publicUrl);
  return root ? `${root}/api/runs/${encodeURIComponent(runId)}` : undefined;
}
