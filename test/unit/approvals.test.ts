// Approval links and the approval config: what a signed link proves, and config errors by JSON path.
import { describe, expect, it } from 'vitest';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { approvalFingerprint } from '../../shared/runs/approval.js';
import { signApprovalToken, verifyApprovalToken } from '../../shared/runs/approvalToken.js';

const key = 'k'.repeat(40);
const claims = {
  run: 'run-1',
  action: 'go',
  round: 1,
  by: 'ana@example.com',
  fp: 'abc',
  exp: 1_800_000_000_000,
  id: 'id1',
};

describe('approval links', () => {
  it('a link signed with the key verifies and carries its claims', () => {
    expect(verifyApprovalToken(signApprovalToken(claims, key), key)).toEqual({ ok: true, claims });
  });

  it('refuses another key, a changed payload, a changed or re-spelled signature, and garbage', () => {
    const token = signApprovalToken(claims, key);
    expect(verifyApprovalToken(token, 'x'.repeat(40)).ok).toBe(false);
    const [payload = '', signature = ''] = token.split('.');
    const other = Buffer.from(
      JSON.stringify({ v: 1, ...claims, by: 'mallory@example.com' }),
    ).toString('base64url');
    expect(verifyApprovalToken(`${other}.${signature}`, key).ok).toBe(false);
    // Every other last character: a different spelling is never accepted, even one that decodes alike.
    for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
      if (c !== signature.at(-1))
        expect(verifyApprovalToken(`${payload}.${signature.slice(0, -1)}${c}`, key).ok).toBe(false);
    for (const bad of ['', '.', 'a.b', `${payload}.`, `${payload}`, `${token}.x`, 'é.é'])
      expect(verifyApprovalToken(bad, key).ok).toBe(false);
  });

  it('the plan fingerprint depends on releases per project, environment and tenant, not on order', () => {
    const a = { project: 'Database', environment: 'Production', tenant: null, releaseId: 'R1' };
    const b = { project: 'Web API', environment: 'Production', tenant: 'Acme', releaseId: 'R2' };
    expect(approvalFingerprint([a, b])).toBe(approvalFingerprint([b, a]));
    expect(approvalFingerprint([a, b])).not.toBe(
      approvalFingerprint([a, { ...b, releaseId: 'R3' }]),
    );
    expect(approvalFingerprint([a])).not.toBe(approvalFingerprint([{ ...a, tenant: 'Acme' }]));
  });
});

describe('approval config', () => {
  const base = {
    projectSets: { s: { projects: ['Database'] } },
  };
  const issues = (config: unknown) => {
    const parsed = coordinationConfigSchema.safeParse(config);
    return parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('names the JSON path of each approval problem', () => {
    const found = issues({
      ...base,
      playbooks: {
        p: {
          stages: [
            {
              name: 'Ask',
              actions: [
                {
                  type: 'approval',
                  approvers: ['a@example.com', 'A@example.com'],
                  minApprovals: 2,
                },
                { type: 'wait', minutes: 1 },
              ],
            },
          ],
        },
      },
      promotions: [
        {
          name: 'n',
          set: 's',
          from: 'Test',
          to: 'Production',
          cron: '0 0 18 * * *',
          approval: { approvers: ['not-an-email'], timeoutMinutes: 0 },
        },
      ],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'playbooks.p.stages.0.actions.0.approvers.1: lists "A@example.com" twice',
        expect.stringMatching(
          /^playbooks\.p\.stages\.0\.actions\.0\.minApprovals: asks for 2 approvals but lists 1 approver/,
        ),
        expect.stringMatching(
          /^playbooks\.p\.stages\.0\.actions\.0: an approval must be the only action of its stage/,
        ),
        expect.stringMatching(/^promotions\.0\.approval\.approvers\.0: /),
        expect.stringMatching(/^promotions\.0\.approval\.timeoutMinutes: /),
      ]),
    );
  });

  it('defaults to one approval within a day', () => {
    const parsed = coordinationConfigSchema.parse({
      ...base,
      playbooks: {
        p: {
          stages: [{ name: 'Ask', actions: [{ type: 'approval', approvers: ['a@example.com'] }] }],
        },
      },
    });
    expect(parsed.playbooks.p?.stages[0]?.actions[0]).toMatchObject({
      minApprovals: 1,
      timeoutMinutes: 1440,
    });
  });
});
