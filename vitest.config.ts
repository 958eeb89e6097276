import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure code, no Azurite, no processes: feedback in seconds), `integration`
// (real Azurite, the simulator, child processes) and `e2e` (the dev host as a user runs it).
// `npm test` runs all three; `npm run test:unit` only the first.
const azurite = ['test/setup/azurite.ts'];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'dist/**'],
    reporters: ['default', './test/setup/summaryReporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: a few files at a time keeps Azurite and the simulators responsive.
    maxWorkers: 3,
    env: { NO_PROXY: '127.0.0.1,localhost' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/contract/**/*.test.ts'],
          globalSetup: azurite,
          // Child processes (lock workers, the CLI, the simulator) start slowly on a loaded machine.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: azurite,
          // Each test spawns the dev host (Azurite, the simulator, the app): 5 s alone, minutes when
          // seven other test runs share two cores (Azurite alone has taken over 30 s to load).
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
