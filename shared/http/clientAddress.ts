// The caller's address as the platform passed it on: the last entry of X-Forwarded-For (the one the
// Azure front end, or the dev host, appended; earlier entries are whatever the client sent), without
// its port. Recorded with approval decisions, for people; never used to authorise anything.
import type { HttpRequest } from '@azure/functions';

export function clientAddress(request: Pick<HttpRequest, 'headers'>): string | undefined {
  const chain = request.headers.get('x-forwarded-for');
  const last = chain?.split(',').at(-1)?.trim();
  if (!last) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(last);
  if (bracketed) return bracketed[1];
  // IPv4 with a port ("203.0.113.7:51234"); a bare IPv6 address has more than one colon.
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(last);
  if (v4) return v4[1];
  return last.length <= 100 ? last : undefined;
}
