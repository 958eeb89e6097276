// What a CLI command is: a commander registration plus the input/output it may use.
import type { Command } from 'commander';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Environment for settings (process.env in the real CLI). */
  env: NodeJS.ProcessEnv;
}

/** Bad input the user can fix (a wrong date, an unknown zone): exit code 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** One file under shared/cli/commands/ exports `command` of this type; main.ts finds it there. */
export interface CliCommand {
  name: string;
  register(program: Command, io: CliIO): void;
}
