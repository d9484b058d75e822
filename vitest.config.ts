import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'plugins/**/*.test.ts'],
    // Child processes, not threads: keytar is a native module and the integration tests change process.env.
    pool: 'forks',
    testTimeout: 30_000,
    // Cloud libraries look for instance metadata at link-local addresses when nothing else is configured. Tests talk
    // to loopback only: AWS's lookup is off, and Google's points at a closed loopback port unless a suite starts one.
    env: { AWS_EC2_METADATA_DISABLED: 'true', GCE_METADATA_HOST: '127.0.0.1:9' },
    hookTimeout: 120_000,
  },
});
