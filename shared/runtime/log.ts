// A minimal logging port. In Azure it is the InvocationContext (so App Insights gets invocation ids).
import type { InvocationContext } from '@azure/functions';

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLog: Log = {
  info: (m) => console.info(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

export const silentLog: Log = { info: () => {}, warn: () => {}, error: () => {} };

/** Log through the Functions context, so Application Insights ties each line to its invocation. */
export function contextLog(context: InvocationContext): Log {
  return {
    info: (m) => context.info(m),
    warn: (m) => context.warn(m),
    error: (m) => context.error(m),
  };
}
