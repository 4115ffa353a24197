import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // The SDK's warning that Node 20 support ends (Lambda runs Node 22): once per client, it buried the test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The end-to-end suites start real PostgreSQL servers and an emulator; two cores are all we have.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
