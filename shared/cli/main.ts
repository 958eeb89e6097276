#!/usr/bin/env node
// Entry point of the coordinator CLI (`npm run coordinator -- <command>`).
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
});
