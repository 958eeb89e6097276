// `coordinator report --date YYYY-MM-DD [--zone Z] [--dry-run] [--out file.html]`: build a day's
// report without sending it; print the text part, write the HTML.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { createCliRuntime } from '../cliRuntime.js';
import { EMAIL_LIMITS } from '../../report/dailyReportJob.js';
import { buildReportFor, fullReportUrl } from '../../report/tick.js';
import { parseReportDate, parseTimeZone, ReportDateError } from '../../report/dayWindow.js';
import { renderHtmlChunks } from '../../report/renderHtml.js';
import { renderTextChunks } from '../../report/renderText.js';
import { subjectOf } from '../../report/format.js';
import { CliUsageError, type CliCommand, type CliIO } from '../command.js';

interface ReportOptions {
  date: string;
  zone?: string;
  dryRun?: boolean;
  out?: string;
}

/** Runs a parser of a person's input; its error becomes a usage error naming the option. */
function parseOption<T>(option: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ReportDateError) throw new CliUsageError(`Option ${option}: ${err.message}`);
    throw err;
  }
}

async function runReport(options: ReportOptions, io: CliIO): Promise<void> {
  const date = parseOption('--date', () => parseReportDate(options.date));
  const zone =
    options.zone === undefined
      ? undefined
      : parseOption('--zone', () => parseTimeZone(options.zone ?? ''));
  const runtime = await createCliRuntime(io);
  if (!runtime.octopus) {
    throw new CliUsageError(
      'Octopus is not configured, so there is nothing to report: set OCTOPUS_URL and OCTOPUS_API_KEY (and OCTOPUS_SPACE if not "Default") and run again.',
    );
  }
  const report = await buildReportFor(runtime, date, zone);
  // A dry run shows the email the daily job would send (row cap, recipients, subject); otherwise the full report.
  const recipients = runtime.config.report?.recipients ?? [];
  const link = fullReportUrl(runtime, date);
  const renderOptions = options.dryRun ? { ...EMAIL_LIMITS, fullReportUrl: link } : {};
  if (options.dryRun) {
    io.out(
      `Dry run: nothing is sent. The daily job would email ${recipients.length > 0 ? recipients.join(', ') : 'nobody (the coordination config has no report.recipients)'}\n` +
        `Subject: ${subjectOf(date, report.totals)}\n\n`,
    );
  }
  // The full report of a busy day is large (50,000 deployments: about 4 MB of text, 12 MB of HTML):
  // printed and written a batch of rows at a time, never held whole.
  for (const chunk of renderTextChunks(report, renderOptions)) io.out(chunk);
  if (options.out) {
    const path = resolve(options.out);
    let bytes = 0;
    function* encoded(): Generator<Buffer, void, undefined> {
      for (const chunk of renderHtmlChunks(report, renderOptions)) {
        const buffer = Buffer.from(chunk, 'utf8');
        bytes += buffer.length;
        yield buffer;
      }
    }
    // writeFile writes an iterable chunk by chunk, each written before the next is asked for.
    await writeFile(path, encoded());
    io.err(`Wrote the HTML report (${Math.round(bytes / 1024)} KB) to ${path}\n`);
  }
}

export const command: CliCommand = {
  name: 'report',
  register(program: Command, io: CliIO) {
    program
      .command('report')
      .description(
        'Build the deployment report of one day without sending it: prints the text, writes the HTML with --out.',
      )
      .requiredOption('--date <YYYY-MM-DD>', 'the local calendar day to report, e.g. 2026-11-20')
      .addOption(
        new Option(
          '--zone <IANA zone>',
          'time zone of the day (default: REPORT_TIME_ZONE), e.g. Europe/Berlin',
        ),
      )
      .option(
        '--dry-run',
        'preview the daily email instead: recipients, subject, and the rows the email would list',
      )
      .option('--out <file>', 'write the HTML to this file')
      .action((options: ReportOptions) => runReport(options, io));
  },
};
