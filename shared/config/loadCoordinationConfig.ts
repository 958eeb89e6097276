// Load the coordination config: read JSON with comments, validate all of it, report every problem.
import { readFile } from 'node:fs/promises';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { coordinationConfigSchema, type CoordinationConfig } from './coordination/schema.js';

export class CoordinationConfigError extends Error {
  constructor(
    readonly source: string,
    /** Each problem as "$.path.to.field: what is wrong". */
    readonly problems: string[],
  ) {
    super(
      `The coordination config ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'CoordinationConfigError';
  }
}

/** Render a validation path as a JSON path: $.promotions[0].cron */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** Validate an already-parsed value as a coordination config. */
export function parseCoordinationConfig(
  value: unknown,
  source = 'coordination config',
): CoordinationConfig {
  const result = coordinationConfigSchema.safeParse(value);
  if (result.success) return result.data;
  throw new CoordinationConfigError(
    source,
    result.error.issues.map((issue) => `${jsonPath(issue.path)}: ${issue.message}`),
  );
}

/** Parse JSON-with-comments text as a coordination config. */
export function parseCoordinationConfigText(
  text: string,
  source = 'coordination config',
): CoordinationConfig {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
  });
  if (errors.length > 0) {
    throw new CoordinationConfigError(
      source,
      errors.map((e) => `${lineAndColumn(text, e.offset)}: ${printParseErrorCode(e.error)}`),
    );
  }
  return parseCoordinationConfig(value, source);
}

/** An empty config: no sets, no jobs. Used when no config file exists at the default path. */
export function emptyCoordinationConfig(): CoordinationConfig {
  return parseCoordinationConfig({});
}

/**
 * Read the config file. A missing file at the default path gives an empty config (`missing: true`);
 * a missing file that was named explicitly is an error.
 */
export async function loadCoordinationConfig(
  path: string,
  options: { required: boolean },
): Promise<{ config: CoordinationConfig; missing: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !options.required) {
      return { config: emptyCoordinationConfig(), missing: true };
    }
    throw new CoordinationConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return { config: parseCoordinationConfigText(text, path), missing: false };
}
