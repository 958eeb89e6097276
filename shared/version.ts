// The app's version, from package.json, for health output and User-Agent strings.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // The nearest package.json of this app above this module: from shared/ (tests), dist/shared/
  // (compiled), or dist/app/ and dist/app/chunks/ (the bundle, dev/bundle.ts).
  for (let path = '../package.json', up = 0; up < 4; path = `../${path}`, up += 1) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'octopus-coordinator') return pkg.version ?? '0.0.0';
    } catch {
      // try the next folder up
    }
  }
  return '0.0.0';
}

export const appVersion = readVersion();
