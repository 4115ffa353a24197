import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The end-to-end suites start real PostgreSQL servers and an emulator; two cores are all we have.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
