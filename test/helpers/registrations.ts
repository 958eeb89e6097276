// Capture what the app registers (routes, methods, auth levels, schedules) by loading the same
// function files Azure loads, with the dev host's stand-in for the worker's core module.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

export interface Registration {
  name: string;
  type: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
}

interface Registry {
  functions: { metadata: { name: string; bindings: Record<string, Record<string, unknown>> } }[];
}

let loaded: Promise<Registration[]> | undefined;

export function loadRegistrations(): Promise<Registration[]> {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const registry = require(resolve('dev/functions-core-stub.cjs')) as Registry;
    for (const file of readdirSync('functions')
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      await import(resolve('functions', file));
    }
    return registry.functions.map(({ metadata }) => {
      const trigger =
        Object.values(metadata.bindings).find((b) => /trigger$/i.test(String(b.type))) ?? {};
      return {
        name: metadata.name,
        type: String(trigger.type),
        ...(typeof trigger.route === 'string' ? { route: trigger.route } : {}),
        ...(Array.isArray(trigger.methods) ? { methods: trigger.methods.map(String) } : {}),
        ...(typeof trigger.authLevel === 'string' ? { authLevel: trigger.authLevel } : {}),
        ...(typeof trigger.schedule === 'string' ? { schedule: trigger.schedule } : {}),
      };
    });
  })();
  return loaded;
}
