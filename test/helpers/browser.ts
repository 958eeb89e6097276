// Headless Chromium (Debian's package) for the browser tests; they skip, saying why, where it is missing.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);

/** Warn once per test file that its browser test is skipped, and how to get Chromium. */
export function warnIfNoChromium(what: string): void {
  if (!haveChromium) {
    console.warn(
      `Skipping the ${what} browser test: ${chromiumPath} is not installed. Install it with "apt-get install -y chromium" (CI's .ci/run does).`,
    );
  }
}

/** Chromium without the background traffic this machine's closed network refuses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
