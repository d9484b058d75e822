/**
 * Run before every test file (vitest's setupFiles): the variables of the shell that runs the tests that name a
 * user's own directories or files are removed, so no test reads or writes the user's keyrings, credrelay files,
 * Docker, AWS, Google, GitHub or npm settings. Each suite names its own (test/support/keyring.ts gives HOME and the
 * five XDG base directories of a private directory).
 */
export const USER_LOCATION_VARIABLES = [
  'XDG_DATA_HOME',
  'XDG_CONFIG_HOME',
  'XDG_STATE_HOME',
  'XDG_CACHE_HOME',
  'XDG_RUNTIME_DIR',
  'DBUS_SESSION_BUS_ADDRESS',
  'CREDRELAY_CONFIG',
  'CREDRELAY_RUNTIME_DIR',
  'CREDRELAY_STORE_KEY_FILE',
  'DOCKER_CONFIG',
  'DOCKER_HOST',
  'REGISTRY_AUTH_FILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'CLOUDSDK_CONFIG',
  'GH_CONFIG_DIR',
  'GNUPGHOME',
  'KUBECONFIG',
  'npm_config_prefix',
  'npm_config_userconfig',
  'npm_config_cache',
] as const;

for (const name of USER_LOCATION_VARIABLES) delete process.env[name];
