import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CoordinationConfigError,
  parseCoordinationConfig,
  parseCoordinationConfigText,
} from '../../shared/config/loadCoordinationConfig.js';
import { coordinationJsonSchema, jsonSchemaFileName } from '../../shared/config/jsonSchema.js';
import { findDependencyCycle } from '../../shared/config/coordination/schema.js';

function problemsOf(value: unknown): string[] {
  try {
    parseCoordinationConfig(value);
  } catch (err) {
    if (err instanceof CoordinationConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('coordination config', () => {
  it('accepts the shipped example (JSON with comments)', () => {
    const config = parseCoordinationConfigText(
      readFileSync('coordination.example.json', 'utf8'),
      'example',
    );
    expect(Object.keys(config.projectSets)).toEqual(['web-stack', 'billing']);
    expect(config.promotions[0]?.timeZone).toBe('Europe/London');
    expect(config.playbooks['release-web-stack']?.stages).toHaveLength(3);
  });

  it('reports every problem with its JSON path, not just the first', () => {
    const problems = problemsOf({
      projectSets: { web: { projects: ['A', 'B'], dependsOn: { B: ['C'] } } },
      watches: [
        { name: 'w', set: 'missing', environments: ['Prod'], recipients: ['not-an-email'] },
      ],
      promotions: [
        {
          name: 'p',
          set: 'web',
          from: 'Test',
          to: 'Prod',
          cron: '61 * * * *',
          timeZone: 'Nowhere/City',
        },
      ],
      unknownSection: true,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\$\.watches\[0\]\.recipients\[0\]: must be an email address/),
        expect.stringMatching(/^\$\.promotions\[0\]\.cron: /),
        expect.stringMatching(/^\$\.promotions\[0\]\.timeZone: must be an IANA time zone/),
        expect.stringMatching(/unknownSection/),
      ]),
    );
  });

  it('checks references between sections once the shapes are valid', () => {
    const problems = problemsOf({
      projectSets: { web: { projects: ['A', 'B'], dependsOn: { B: ['C'] } } },
      watches: [
        { name: 'w', set: 'missing', environments: ['Prod'], recipients: ['a@example.com'] },
      ],
      rules: [{ name: 'r', when: { project: 'A', environment: 'Test' }, start: 'nope' }],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        '$.projectSets.web.dependsOn.B[0]: "C" is not one of the set\'s projects',
        '$.watches[0].set: names project set "missing", which is not defined in projectSets',
        '$.rules[0].start: names playbook "nope", which is not defined in playbooks',
      ]),
    );
  });

  it('refuses a dependency cycle and names it', () => {
    const problems = problemsOf({
      projectSets: {
        s: { projects: ['A', 'B', 'C'], dependsOn: { A: ['B'], B: ['C'], C: ['A'] } },
      },
    });
    expect(problems).toEqual([
      '$.projectSets.s.dependsOn: has a dependency cycle: A -> B -> C -> A',
    ]);
    expect(findDependencyCycle({ A: ['B'], B: [] })).toBeUndefined();
  });

  it('gives the line and column of a JSON syntax error', () => {
    expect(() => parseCoordinationConfigText('{\n  "projectSets": {,\n}', 'bad.json')).toThrow(
      /line 2, column/,
    );
  });

  it('says in words what is wrong with the syntax, once per place', () => {
    try {
      parseCoordinationConfigText('{ "space": "Default", "projectSets": { ', 'bad.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CoordinationConfigError);
      expect((err as CoordinationConfigError).problems).toEqual([
        'line 1, column 40: "}" is expected: an object is not closed',
      ]);
    }
  });

  it('keeps the committed JSON Schema in step with the zod schema (run `npm run schema` if this fails)', () => {
    expect(readFileSync(jsonSchemaFileName, 'utf8')).toBe(coordinationJsonSchema());
  });
});

describe('coordination config: one pass', () => {
  it('reports shape and reference problems together', () => {
    const problems = problemsOf({
      projectSets: { s: { projects: ['A'], dependsOn: { A: ['B'] } } },
      promotions: [{ name: 'p', set: 's', from: 'Test', to: 'Prod', cron: 'never' }],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\$\.promotions\[0\]\.cron: must have 6 fields/),
        '$.projectSets.s.dependsOn.A[0]: "B" is not one of the set\'s projects',
      ]),
    );
  });

  it('refuses a playbook or promoted set in another space than the coordinator acts in', () => {
    const problems = problemsOf({
      space: 'Default',
      projectSets: {
        s: { space: 'Other', projects: ['A'] },
        t: { space: 'Default', projects: ['B'] },
      },
      promotions: [
        { name: 'p', set: 's', from: 'Test', to: 'Prod', cron: '0 0 18 * * *' },
        { name: 'q', set: 't', from: 'Test', to: 'Prod', cron: '0 0 18 * * *' },
      ],
      playbooks: {
        pb: {
          space: 'Other',
          stages: [
            { name: 'x', actions: [{ type: 'notify', to: ['a@example.com'], subject: 's' }] },
          ],
        },
      },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^\$\.playbooks\.pb\.space: a playbook in space "Other" is not supported/,
      ),
      expect.stringMatching(
        /^\$\.promotions\[0\]\.set: promoting set "s" in space "Other" is not supported/,
      ),
    ]);
  });
});
