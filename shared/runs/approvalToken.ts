// Signed approval links: who may decide which round of which approval of which run, until when.
// The token is the authorisation of the anonymous confirmation page, so it carries the approver's
// identity and is signed with HMAC-SHA256 under COORDINATOR_APPROVAL_KEY. A token is used once: the
// decision it records names its id, and a round takes one decision per approver.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Settings } from '../config/settings.js';

export interface ApprovalClaims {
  /** Run id. */
  run: string;
  /** The approval action's id. */
  action: string;
  /** The round the link asks about (a changed plan opens a new round; old links then say so). */
  round: number;
  /** The approver's email: the only person this link decides for. */
  by: string;
  /** The plan fingerprint the approver is shown and approves. */
  fp: string;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
  /** The link's own id. */
  id: string;
}

const claimsSchema = z.strictObject({
  v: z.literal(1),
  run: z.string().min(1).max(200),
  action: z.string().min(1).max(200),
  round: z.number().int().min(1),
  by: z.string().min(1).max(320),
  fp: z.string().min(1).max(64),
  exp: z.number().int(),
  id: z.string().min(1).max(64),
});

/** Domain separation: a signature of anything else under the same key never passes as a link. */
const context = 'octopus-coordinator/approval-link/v1\n';

function mac(key: string, payload: string): Buffer {
  return createHmac('sha256', key)
    .update(context + payload)
    .digest();
}

export function newTokenId(): string {
  return randomBytes(9).toString('base64url');
}

export function signApprovalToken(claims: ApprovalClaims, key: string): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, ...claims })).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

export type TokenCheck = { ok: true; claims: ApprovalClaims } | { ok: false };

/** The claims of a token signed with `key`, or `{ ok: false }` for anything else (no detail on purpose). */
export function verifyApprovalToken(token: string, key: string): TokenCheck {
  if (token.length > 2000 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false };
  const [payload = '', signature = ''] = token.split('.');
  // Compared as text: base64url has spare bits, and only the one spelling the coordinator made is its link.
  const expected = Buffer.from(mac(key, payload).toString('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false };
  }
  const claims = claimsSchema.safeParse(parsed);
  if (!claims.success) return { ok: false };
  const { v: _version, ...rest } = claims.data;
  return { ok: true, claims: rest };
}

/**
 * Where approval links point: PUBLIC_URL (set by the Bicep template to the app's address), else this
 * host on its own port (the dev host).
 */
export function approvalBaseUrl(settings: Pick<Settings, 'publicUrl' | 'port'>): string {
  return (settings.publicUrl ?? `http://127.0.0.1:${settings.port}`).replace(/\/+$/, '');
}

/** The confirmation page of a token, under the app's public address. */
export function approvalPageUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/approvals/${token}`;
}
