// Load the coordination config: read JSON with comments, validate all of it, report every problem.
import { readFile } from 'node:fs/promises';
import { parse as parseJsonc, ParseErrorCode, type ParseError } from 'jsonc-parser';
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
    const problems = errors.map(
      (e) => `${lineAndColumn(text, e.offset)}: ${syntaxErrorText(e.error)}`,
    );
    throw new CoordinationConfigError(source, [...new Set(problems)]);
  }
  return parseCoordinationConfig(value, source);
}

/** A JSON syntax error in words (the parser reports some twice; callers drop repeats). */
function syntaxErrorText(code: ParseErrorCode): string {
  switch (code) {
    case ParseErrorCode.InvalidSymbol:
    case ParseErrorCode.InvalidCharacter:
      return 'unexpected character (names and text need double quotes)';
    case ParseErrorCode.InvalidNumberFormat:
    case ParseErrorCode.UnexpectedEndOfNumber:
      return 'not a valid number';
    case ParseErrorCode.PropertyNameExpected:
      return 'a property name in double quotes is expected';
    case ParseErrorCode.ValueExpected:
      return 'a value is expected';
    case ParseErrorCode.ColonExpected:
      return '":" is expected after the property name';
    case ParseErrorCode.CommaExpected:
      return '"," is expected between two entries';
    case ParseErrorCode.CloseBraceExpected:
      return '"}" is expected: an object is not closed';
    case ParseErrorCode.CloseBracketExpected:
      return '"]" is expected: a list is not closed';
    case ParseErrorCode.EndOfFileExpected:
      return 'more text after the end of the config';
    case ParseErrorCode.InvalidCommentToken:
    case ParseErrorCode.UnexpectedEndOfComment:
      return 'a comment is not closed or not valid (use // or /* */)';
    case ParseErrorCode.UnexpectedEndOfString:
      return 'a string is not closed (missing ")';
    case ParseErrorCode.InvalidUnicode:
    case ParseErrorCode.InvalidEscapeCharacter:
      return 'an invalid escape (\\) in a string';
    default:
      return 'a JSON syntax error';
  }
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
