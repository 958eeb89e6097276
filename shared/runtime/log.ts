// A minimal logging port. In Azure it is the InvocationContext (so App Insights gets invocation ids).

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
