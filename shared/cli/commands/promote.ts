// `coordinator promote --promotion <name> [--dry-run] [--at <ISO time>]`: print a promotion's plan, or start it now.
import { freezeChecker } from '../../freezes/check.js';
import type { Command } from 'commander';
import { UnknownNamesError } from '../../conditions/snapshot.js';
import { describePlan } from '../../promotion/plan.js';
import {
  findPromotion,
  readPromotionPlan,
  UnknownPromotionError,
} from '../../promotion/readPlan.js';
import { startPromotionNow } from '../../promotion/schedule.js';
import { consoleLog } from '../../runtime/log.js';
import { createCliRuntime } from '../cliRuntime.js';
import { CliUsageError, type CliCommand, type CliIO } from '../command.js';

interface PromoteOptions {
  promotion: string;
  dryRun?: boolean;
  at?: string;
}

async function runPromote(options: PromoteOptions, io: CliIO): Promise<void> {
  const runtime = await createCliRuntime(io);
  if (!runtime.octopus) {
    throw new CliUsageError(
      'Octopus is not configured: set OCTOPUS_URL and OCTOPUS_API_KEY (and OCTOPUS_SPACE if not "Default") and run again.',
    );
  }
  let promotion;
  try {
    promotion = findPromotion(runtime.config, options.promotion);
  } catch (err) {
    if (err instanceof UnknownPromotionError) throw new CliUsageError(err.message);
    throw err;
  }
  const at = options.at === undefined ? runtime.clock.now() : new Date(options.at);
  if (Number.isNaN(at.getTime()))
    throw new CliUsageError(
      `Option --at: "${options.at}" is not a time; write it as ISO 8601, e.g. 2026-12-24T18:00:00Z.`,
    );

  if (options.dryRun) {
    try {
      const plan = await readPromotionPlan(runtime.octopus, runtime.config, promotion, at, {
        tables: runtime.tables,
        timeZone: runtime.settings.report.timeZone,
        freezes: freezeChecker({ tables: runtime.tables, octopus: runtime.octopus, now: () => at }),
      });
      io.out(`Dry run: nothing is deployed.\n${describePlan(plan)}\n`);
    } catch (err) {
      if (err instanceof UnknownNamesError) throw new CliUsageError(err.message);
      throw err;
    }
    return;
  }
  if (options.at !== undefined)
    throw new CliUsageError('--at only goes with --dry-run: a real promotion runs now.');
  // A manual run is claimed per minute, so the same command entered twice (or on two machines) runs once.
  const outcome = await startPromotionNow(
    runtime,
    promotion,
    `cli on ${runtime.instanceId}`,
    consoleLog,
  );
  const slot = outcome.slot;
  if (outcome.plan) io.out(`${describePlan(outcome.plan)}\n`);
  switch (outcome.state) {
    case 'started':
      io.out(
        `Started run ${outcome.runId ?? ''}. The coordinator's status poll carries it on; follow it with GET /api/runs/${outcome.runId ?? ''}.\n`,
      );
      return;
    case 'nothing':
      io.out('Nothing to promote: every project is already current in the target.\n');
      return;
    case 'alreadyClaimed':
      io.out(
        `This promotion was already started this minute (${slot})${outcome.runId ? ` as run ${outcome.runId}` : ''}; not starting it twice.\n`,
      );
      return;
    case 'blocked':
      throw new Error(`The promotion did not run:\n${outcome.detail ?? ''}`);
    default:
      throw new Error(outcome.detail ?? `The promotion ended as ${outcome.state}.`);
  }
}

export const command: CliCommand = {
  name: 'promote',
  register(program: Command, io: CliIO) {
    program
      .command('promote')
      .description(
        "Show a scheduled promotion's plan (stages, releases, what is skipped and why, what would stop it), or start it now.",
      )
      .requiredOption(
        '--promotion <name>',
        'the promotion, as named under "promotions" in the coordination config',
      )
      .option('--dry-run', 'print the plan and deploy nothing')
      .option(
        '--at <ISO time>',
        'with --dry-run: plan as if at this time (freeze windows), e.g. 2026-12-24T18:00:00Z',
      )
      .action((options: PromoteOptions) => runPromote(options, io));
  },
};
