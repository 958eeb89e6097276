// The flags `npm start` takes; anything else is an error, so a typo never silently runs without it.

export interface StartFlags {
  live: boolean;
  timers: boolean;
  help: boolean;
}

export const startUsage = `Usage: npm start [-- --live] [-- --no-timers]

Starts Azurite (table storage), the Octopus simulator (unless OCTOPUS_URL is set) and the
coordinator's functions on http://127.0.0.1:$PORT (default 7071).
  --live        the simulator creates and deploys new releases every few minutes
  --no-timers   don't fire timers on their schedules (run one with POST /admin/functions/<name>)
  --help        this text`;

export class StartArgsError extends Error {
  override name = 'StartArgsError';
}

export function parseStartArgs(args: readonly string[]): StartFlags {
  const flags: StartFlags = { live: false, timers: true, help: false };
  const unknown: string[] = [];
  for (const arg of args) {
    if (arg === '--live') flags.live = true;
    else if (arg === '--no-timers') flags.timers = false;
    else if (arg === '--help' || arg === '-h') flags.help = true;
    else unknown.push(arg);
  }
  if (unknown.length > 0)
    throw new StartArgsError(
      `Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((a) => `"${a}"`).join(', ')}: npm start takes --live, --no-timers and --help (after --, as in npm start -- --live).`,
    );
  return flags;
}

/** Shell-quoted for POSIX shells: single quotes, with any single quote closed and escaped. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export` lines that point the CLI (or anything else) at what this dev host really runs. */
export function cliExports(values: Record<string, string | undefined>): string[] {
  return Object.entries(values)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([name, value]) => `export ${name}=${shellQuote(value)}`);
}
