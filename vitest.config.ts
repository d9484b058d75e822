import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'plugins/**/*.test.ts'],
    // Child processes, not threads: keytar is a native module and the integration tests change process.env.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
