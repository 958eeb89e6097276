import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    globalSetup: ['test/setup/azurite.ts'],
    reporters: ['default', './test/setup/summaryReporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: a few files at a time keeps Azurite and the simulators responsive.
    maxWorkers: 3,
    env: { NO_PROXY: '127.0.0.1,localhost' },
  },
});
