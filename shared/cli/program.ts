// The coordinator CLI: a commander program with one command per file in ./commands/.
import { readdirSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { redactSecrets, SettingsError } from '../config/settings.js';
import { appVersion } from '../version.js';
import { CliUsageError, type CliCommand, type CliIO } from './command.js';

function isCliCommand(value: unknown): value is CliCommand {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CliCommand).name === 'string' &&
    typeof (value as CliCommand).register === 'function'
  );
}

/** Every `command` exported by a module in ./commands/, by name. Adding a command is adding a file. */
export async function loadCommands(): Promise<CliCommand[]> {
  const dir = new URL('./commands/', import.meta.url);
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(extension) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const commands: CliCommand[] = [];
  for (const file of files) {
    const module = (await import(new URL(file, dir).href)) as { command?: unknown };
    if (isCliCommand(module.command)) commands.push(module.command);
  }
  return commands.sort((a, b) => a.name.localeCompare(b.name));
}

export function buildProgram(commands: readonly CliCommand[], io: CliIO): Command {
  const program = new Command('coordinator')
    .description('Octopus Coordinator: one-off jobs and previews from the command line.')
    .version(appVersion)
    .showHelpAfterError('(run with --help for the options)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  for (const command of commands) command.register(program, io);
  return program;
}

/** Runs the CLI; returns the exit code (0 done, 1 failed, 2 bad input). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const program = buildProgram(await loadCommands(), io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" with code 0 under exitOverride.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliUsageError) {
      io.err(`${err.message}\n`);
      return 2;
    }
    if (err instanceof SettingsError) {
      io.err(
        `${err.message}\nFix these app settings (environment variables or local.settings.json) and run again.\n`,
      );
      return 2;
    }
    const secrets = secretsIn(io.env);
    const message = err instanceof Error ? err.message : String(err);
    io.err(`${redactSecrets(message, secrets)}\n`);
    return 1;
  }
}

function secretsIn(env: NodeJS.ProcessEnv): string[] {
  return ['OCTOPUS_API_KEY', 'SENDGRID_API_KEY', 'WEBHOOK_SECRET', 'COORDINATOR_APPROVAL_KEY']
    .map((name) => env[name])
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
}
