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

describe('coordination config: release trains', () => {
  const deploy = (release: unknown, project = 'A') => ({
    type: 'deploy',
    project,
    environment: 'Production',
    release,
  });
  const withPlaybook = (actions: unknown[], extra: Record<string, unknown> = {}) => ({
    projectSets: {
      web: { projects: ['A', 'B'], soakMinutes: 30 },
      other: { projects: ['B', 'C'] },
    },
    playbooks: { ship: { stages: [{ name: 'one', actions }] } },
    ...extra,
  });

  it('accepts trains by id and the newest verified one, soakMinutes, captureTrains and source train', () => {
    const config = parseCoordinationConfig(
      withPlaybook(
        [
          deploy({ train: 'web@0123456789abcdef' }),
          deploy({ train: 'latestVerified', from: 'Test' }, 'A'),
        ],
        {
          watches: [
            {
              name: 'w',
              set: 'web',
              environments: ['Test'],
              recipients: ['a@example.com'],
              captureTrains: true,
            },
          ],
          promotions: [
            {
              name: 'p',
              set: 'web',
              from: 'Test',
              to: 'Production',
              cron: '0 0 18 * * *',
              source: 'train',
            },
          ],
        },
      ),
    );
    expect(config.projectSets.web?.soakMinutes).toBe(30);
    expect(config.projectSets.other?.soakMinutes).toBe(60);
    expect(config.watches[0]?.captureTrains).toBe(true);
    expect(config.promotions[0]?.source).toBe('train');
  });

  it('names each train problem by its JSON path', () => {
    const problems = problemsOf(
      withPlaybook(
        [
          deploy({ train: 'not-an-id' }),
          deploy({ train: 'nope@0123456789abcdef' }),
          deploy({ train: 'other@0123456789abcdef' }, 'A'),
          deploy({ train: 'latestVerified' }, 'A'),
          deploy({ train: 'latestVerified', from: 'Test' }, 'B'),
          deploy({ train: 'web@0123456789abcdef', from: 'Test' }),
        ],
        {
          promotions: [
            {
              name: 'p',
              set: 'web',
              from: 'Test',
              to: 'Prod',
              cron: '0 0 18 * * *',
              source: 'newest',
            },
          ],
        },
      ),
    );
    const at = (i: number) => `$.playbooks.ship.stages[0].actions[${i}].release`;
    expect(problems).toEqual(
      expect.arrayContaining([
        `${at(0)}.train: must be a train id such as web-stack@0123456789abcdef (GET /api/trains lists them) or "latestVerified"`,
        `${at(1)}.train: names project set "nope", which is not defined in projectSets`,
        `${at(2)}.train: train other@0123456789abcdef is of set "other", which does not have project "A"`,
        `${at(3)}.from: latestVerified needs "from": the environment the train was verified in`,
        `${at(4)}.set: project "B" is in several sets (web, other); name the train's set in "set"`,
        `${at(5)}: "set" and "from" go with "latestVerified" only: a train id names its set and environment`,
        '$.promotions[0].source: Invalid option: expected one of "current"|"train"',
      ]),
    );
  });
});
