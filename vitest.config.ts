import { defineConfig } from 'vitest/config';

/** Tests that need nothing but Node: no keyring, registry, AWS emulator, Docker CLI, skopeo or Go, and no build. */
const UNIT = [
  'test/unit/**/*.test.ts',
  'src/**/*.test.ts',
  'plugins/**/*.test.ts',
  'test/fuzz/matchers.fuzz.test.ts',
  'test/fuzz/parsers.fuzz.test.ts',
];

const shared = {
  // Child processes, not threads: the integration tests change process.env.
  pool: 'forks' as const,
  testTimeout: 30_000,
  // Cloud libraries look for instance metadata at link-local addresses when nothing else is configured. Tests talk
  // to loopback only: AWS's lookup is off, and Google's points at a closed loopback port unless a suite starts one.
  // The launcher (bin/docker-credential-credrelay) runs the native client where it is built; with CREDRELAY_NATIVE=0
  // it hands every request to the Node client, whose behaviour the suites assert. The native client is held to the
  // Node client's answers byte for byte in native.test.ts, and install.test.ts runs the launcher as installed.
  // The bound on one user's daemons counts every daemon of the user, and every suite runs as root, two at a time:
  // suites get a bound of their own size; test/integration/daemon-bound.test.ts holds the default as another user.
  env: {
    AWS_EC2_METADATA_DISABLED: 'true',
    GCE_METADATA_HOST: '127.0.0.1:9',
    CREDRELAY_NATIVE: '0',
    CREDRELAY_MAX_DAEMONS: '64',
  },
  hookTimeout: 120_000,
  // The user's own directories stay out of every test, whatever the shell that runs them has set.
  setupFiles: ['test/support/isolate-environment.ts'],
};

export default defineConfig({
  test: {
    // Two suites at a time: each starts its own keyring, registry and daemons under its own directories, and most of
    // their time is spent waiting on those processes, not on the CPU.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'unit', include: UNIT } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/load/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
          exclude: UNIT,
        },
      },
    ],
  },
});
