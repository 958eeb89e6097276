// The app's version, from package.json, for health output and User-Agent strings.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // From dist/shared/ (compiled) or shared/ (tests), the package file is two or one level up.
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'octopus-coordinator') return pkg.version ?? '0.0.0';
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}

export const appVersion = readVersion();
