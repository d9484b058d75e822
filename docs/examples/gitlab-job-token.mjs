// @ts-check
/**
 * An example credrelay provider plugin: GitLab CI job tokens.
 *
 * Inside a GitLab CI job, the registry accepts the user `gitlab-ci-token` with the job's `CI_JOB_TOKEN`. This plugin
 * serves registry.gitlab.com (and any host a `registries` entry routes to it) from that variable, so a job can pull
 * with no `docker login` and no password written anywhere.
 *
 * Load it from credrelay's config:  { "plugins": ["./gitlab-job-token.mjs"] }
 * Route a self-managed instance:    { "registries": { "registry.gitlab.corp.example": { "provider": "gitlab-job-token" } } }
 */

/** @typedef {import('credrelay/provider').Provider} Provider */

const GITLAB_REGISTRY = 'registry.gitlab.com';

/** @type {Provider} */
const provider = {
  name: 'gitlab-job-token',
  about: {
    description: 'GitLab CI job tokens from $CI_JOB_TOKEN (or another variable), user gitlab-ci-token',
    hostPatterns: [GITLAB_REGISTRY],
  },
  routes: {
    options: {
      tokenVariable: {
        type: 'string',
        description: 'the environment variable holding the token (default CI_JOB_TOKEN), such as CI_JOB_TOKEN',
        pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
      },
    },
  },

  // The matcher sees the parsed registry (lower-case host, port, no path): compare whole values, never substrings.
  matches: (registry) => registry.host === GITLAB_REGISTRY && registry.port === undefined,

  async get(_registry, context) {
    const variable = typeof context.options.tokenVariable === 'string' ? context.options.tokenVariable : 'CI_JOB_TOKEN';
    const token = process.env[variable];
    // Outside a CI job there is simply nothing to offer: undefined lets Docker carry on anonymously.
    if (!token) return undefined;
    // The job token lives as long as the job; no expiry is known, so credrelay does not cache it.
    return { username: 'gitlab-ci-token', secret: token };
  },
};

export default provider;
