import type { TokenCache } from '../cache/token-cache.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { CredrelayError, credentialsNotFound, toCredrelayError } from '../core/errors.js';
import type { Credentials } from '../core/protocol/codec.js';
import type { CredentialHelper, RequestContext } from '../core/protocol/handler.js';
import type { JobIdentitySetting, PodIdentityMode } from '../core/config.js';
import type {
  Credential,
  PodIdentity,
  Provider,
  ProviderContext,
  RouteOptionValues,
  StoredEntry,
} from '../core/provider.js';
import { nodeCrypto } from '../core/util/crypto.js';
import { withDeadline } from '../core/util/deadline.js';
import { type RegistryIdentity, parseRegistry } from '../core/registry/identity.js';
import type { SecretReader } from '../core/secrets/managed-secrets.js';
import type { ProviderSet } from './provider-set.js';
import { type JobTokens, createJobTokens, jobCacheIdentity } from './job-identity.js';
import { RouteTable } from './route-table.js';

/** Where a registry goes, and why: what `credrelay route` explains. */
interface RoutingDecision {
  readonly registry: RegistryIdentity;
  readonly provider: Provider;
  readonly options: RouteOptionValues;
  /** Whether a kubelet request is answered as its pod: the route's `podIdentity`, `auto` without one. */
  readonly podIdentity: PodIdentityMode;
  /** Pull as the CI job that runs credrelay, with its OIDC token (the route's `jobIdentity`). */
  readonly jobIdentity?: JobIdentitySetting;
  readonly reason:
    | { readonly kind: 'registries'; readonly key: string }
    | { readonly kind: 'matcher' }
    | { readonly kind: 'fallback' };
  /**
   * The routes of this registry that take only some of its repositories (keys as written): a request that names no
   * repository (Docker's protocol asks per registry) cannot be answered by them.
   */
  readonly pathRoutes: readonly string[];
  /** The route's repository path, when the route takes only the repositories under it. */
  readonly path?: readonly string[];
}

interface RouterOptions {
  /** The daemon's cache. A helper serving in-process has none: its memory dies with it. */
  readonly cache?: TokenCache;
  readonly logger?: Logger;
  /** Resolves `$NAME` references and named secrets (keychain, then environment). */
  readonly resolveSecret?: (name: string, pod?: SecretReader) => Promise<string>;
  /** Whether some secret is bound with `podIdentity`: only then is a kubelet pod's answer kept apart per pod. */
  readonly podSecrets?: boolean;
  /** PROVIDER_DEADLINE_MS unless a test says otherwise. */
  readonly providerDeadlineMs?: number;
  /** Where a route's `jobIdentity` token comes from: this process's environment (the caller's) by default. */
  readonly jobTokens?: JobTokens;
}

/** The registry part of the cache key of a provider whose one token serves all its registries. */
export const EVERY_REGISTRY = '*';

/**
 * The one object that answers for a configuration: the docker-credential protocol's four calls, and what the CLI,
 * doctor and the kubelet path ask of the routing.
 */
export interface Router extends CredentialHelper {
  /** Where a registry goes, or one repository of it (`repository`: its path's segments, as kubelet names it). */
  decide(registry: RegistryIdentity, repository?: readonly string[]): RoutingDecision;
  /** Every provider, in routing order (matchers first, the keychain last). */
  providers(): readonly Provider[];
  /**
   * The credential for a registry, with its expiry; undefined when its provider has nothing. With `pod` (a kubelet
   * request that carries a service-account token), as that pod where the provider and the route allow it.
   */
  credentialFor(
    registry: RegistryIdentity,
    request: RequestContext,
    pod?: PodIdentity,
    repository?: readonly string[],
  ): Promise<Credential | undefined>;
  /** Forgets cached tokens for one registry (including a token its provider shares across registries), or all. */
  clearCache(registry?: RegistryIdentity): number;
  /** What a provider is handed for one request: the route's options, notices, the log, secret resolution. */
  /** `pod`: in kubelet mode, the pod the image is pulled for, which secrets bound with `podIdentity` are read as. */
  contextFor(options: RouteOptionValues, request: RequestContext, pod?: SecretReader): ProviderContext;
}

const NO_OPTIONS: RouteOptionValues = Object.freeze({});

/**
 * The most one provider fetch may take, whatever the provider does: above every provider's own deadline (exec's
 * 20 s), below the client's 30 s wait for a reply.
 */
const PROVIDER_DEADLINE_MS = 25_000;

/**
 * Sends each registry to one provider, in this order: an explicit `registries` entry (exact keys, then the most
 * specific glob), then each provider's own host matcher, then the keychain. Matching works on the parsed registry
 * identity only, never on the raw string. A registry routed to a provider that has nothing is "not found"; a
 * provider's failure is its own error, never turned into "not found".
 */
export function createRouter(providers: ProviderSet, options: RouterOptions = {}): Router {
  const logger = options.logger ?? silentLogger;
  const decide = decider(providers);
  const contextFor = contextFactory(logger, options.resolveSecret ?? secretNotSet);
  const cached = cacheKeeper(options.cache, decide);
  const deadlineMs = options.providerDeadlineMs ?? PROVIDER_DEADLINE_MS;
  let jobTokens = options.jobTokens;

  const credentialFor = async (
    registry: RegistryIdentity,
    request: RequestContext,
    kubeletPod?: PodIdentity,
    repository?: readonly string[],
  ) => {
    const decision = decide(registry, repository);
    if (repository === undefined && decision.reason.kind !== 'registries' && decision.pathRoutes.length > 0) {
      // Only some repositories of this registry are routed, and the caller names none: answering with one of their
      // credentials, or the keychain's, would be a guess.
      throw new CredrelayError(
        'ROUTE_NEEDS_REPOSITORY',
        `routes for ${registry.key} differ by repository (${decision.pathRoutes.join(', ')}); Docker asks per registry, not per repository: add a route for the whole registry ("${registry.key}") for docker, BuildKit, podman, buildah and skopeo, or pull these repositories through the kubelet, which names the image`,
      );
    }
    // A route with `jobIdentity` pulls as the CI job: its OIDC token stands where a pod's would (a kubelet request's
    // own pod token still comes first).
    let job: PodIdentity | undefined;
    if (kubeletPod === undefined && decision.jobIdentity !== undefined) {
      jobTokens ??= createJobTokens();
      // Reading or fetching the job's token counts against the same deadline as the provider's own work.
      job = await withDeadline(
        jobTokens.identity(decision.jobIdentity),
        deadlineMs,
        () =>
          new CredrelayError(
            'PROVIDER_FAILED',
            `the CI job's OIDC token for ${decision.registry.key} could not be had within ${deadlineMs / 1000} s: run \`credrelay route ${decision.registry.key}\` to see where it comes from`,
          ),
      );
      logger.redact(job.token);
      if (!decision.provider.podIdentity?.uses(job, decision.options)) {
        throw new CredrelayError(
          'PROVIDER_FAILED',
          `${decision.registry.key} pulls as this CI job ("jobIdentity"), but the ${decision.provider.name} provider has nothing to exchange its token for: ${JOB_NEEDS[decision.provider.name] ?? 'name the identity in the route'}`,
        );
      }
    }
    const pod = kubeletPod ?? job;
    if (pod !== undefined) {
      // The token is a secret; the annotations (roles, client IDs) stay out of the log too.
      logger.redact(pod.token);
      for (const value of Object.values(pod.annotations)) logger.redact(value);
    }
    const asPod = actsAsPod(decision, pod);
    // Secrets bound with `podIdentity` are read as the kubelet's pod whatever the provider; the answer is then that
    // pod's, and is kept (and shared by concurrent requests) per pod.
    const secretsAs = kubeletPod === undefined || !options.podSecrets ? undefined : secretReaderOf(kubeletPod);
    const context = contextFor(decision.options, request, secretsAs);
    // Every secret a provider returns is masked in the log here, including one a background refresh fetched and no
    // caller has seen yet; providers need not do it themselves.
    // Concurrent requests share one fetch, so one that never settles would wedge the route for every later caller:
    // past PROVIDER_DEADLINE_MS it is abandoned and the next request starts afresh.
    const fetch = async () => {
      const fetched = await withDeadline(
        decision.provider.get(registry, asPod ? { ...context, podIdentity: asPod } : context),
        deadlineMs,
        () =>
          new CredrelayError(
            'PROVIDER_FAILED',
            `the ${decision.provider.name} provider did not answer for ${registry.key} within ${deadlineMs / 1000} s: run \`credrelay doctor\` to see which part is stuck`,
          ),
      );
      if (fetched !== undefined) logger.redact(fetched.secret);
      return fetched;
    };
    // Whom the credential is kept for besides the route. A CI job's: everything its token says of the job (every
    // claim but its times), so a renewed token of the same job reuses it, and any other job (another branch, a fork,
    // the next job on the agent) makes its own exchange. A pod's token comes with an untrusted request: keyed by the
    // token itself, whether the provider acts as the pod or only the route's secrets are read as it.
    const caller =
      asPod === undefined
        ? secretsAs?.caller
        : job !== undefined
          ? jobCacheIdentity(asPod)
          : podCacheIdentity(asPod, decision.provider.podIdentity?.annotations(decision.options) ?? []);
    return cached.fetch(decision, fetch, caller);
  };

  return {
    decide,
    contextFor,
    credentialFor,
    clearCache: cached.clear,
    providers: () => [...providers.matchers, providers.keychain],
    async get(serverURL, request) {
      const credential = await credentialFor(parseRegistry(serverURL), request);
      if (credential === undefined) throw credentialsNotFound();
      return { username: credential.username, secret: credential.secret };
    },
    store: (credentials, request) => {
      logger.redact(credentials.Secret);
      return store(decide(parseRegistry(credentials.ServerURL)), credentials, contextFor, request);
    },
    erase: (serverURL, request) => {
      const decision = decide(parseRegistry(serverURL));
      cached.clear(decision.registry);
      // `docker logout` erases up to four spellings of one registry (HOST, http://HOST, https://HOST, …), each in
      // a process of its own: a notice is said once, for the bare one.
      const quiet = serverURL !== decision.registry.key && serverURL !== decision.registry.host;
      return erase(decision, contextFor, quiet ? { ...request, notice: () => undefined } : request);
    },
    list: (request) => list(providers, contextFor(NO_OPTIONS, request)),
  };
}

/** The routing decision for a registry: a `registries` entry, a provider's matcher, or the keychain. */
function decider(
  providers: ProviderSet,
): (registry: RegistryIdentity, repository?: readonly string[]) => RoutingDecision {
  const routes = new RouteTable(providers.routes);
  return (registry, repository) => {
    const pathRoutes = routes.pathRoutes(registry);
    const route = routes.lookup(registry, repository);
    if (route !== undefined) {
      return {
        registry,
        provider: providers.byName.get(route.provider)!,
        options: route.options,
        podIdentity: route.podIdentity,
        ...(route.jobIdentity ? { jobIdentity: route.jobIdentity } : {}),
        reason: { kind: 'registries', key: route.written },
        pathRoutes,
        ...(route.pattern.path ? { path: route.pattern.path } : {}),
      };
    }
    const matched = providers.matchers.find((provider) => provider.matches(registry));
    if (matched !== undefined)
      return {
        registry,
        provider: matched,
        options: NO_OPTIONS,
        podIdentity: 'auto',
        reason: { kind: 'matcher' },
        pathRoutes,
      };
    return {
      registry,
      provider: providers.keychain,
      options: NO_OPTIONS,
      podIdentity: 'auto',
      reason: { kind: 'fallback' },
      pathRoutes,
    };
  };
}

/**
 * The pod a request is answered as, or undefined for the node: a pod identity is used when kubelet passed one, the
 * route allows it, and the provider can act as that pod with these options. A route that requires it fails
 * otherwise, saying what is missing.
 */
function actsAsPod(decision: RoutingDecision, pod: PodIdentity | undefined): PodIdentity | undefined {
  if (decision.podIdentity === 'off') return undefined;
  const support = decision.provider.podIdentity;
  if (pod !== undefined && support?.uses(pod, decision.options)) return pod;
  if (decision.podIdentity !== 'required') return undefined;
  const must = `${decision.registry.key} is pulled only as the pod (its registries entry says "podIdentity": "required"), but`;
  if (pod === undefined) {
    throw new CredrelayError(
      'POD_IDENTITY_REQUIRED',
      `${must} no service-account token came with the request: give kubelet's CredentialProviderConfig "tokenAttributes" (see docs/kubernetes.md)`,
    );
  }
  const annotations = support?.annotations(decision.options) ?? [];
  throw new CredrelayError(
    'POD_IDENTITY_REQUIRED',
    `${must} the ${decision.provider.name} provider has no identity to act as for service account ${pod.namespace}/${pod.serviceAccount}: ${annotations.length > 0 ? `annotate it with ${annotations.join(' or ')}, or ` : ''}name one in the route's options`,
  );
}

/**
 * The part of a cache key that tells pods apart: the service account, and a digest of its token and of the
 * annotations the provider reads (`annotations`: their names). So a cached credential is only ever handed to a request with the very token (and
 * annotations) it was obtained with; a request with a made-up token for the same service account makes its own
 * exchange, which the cloud refuses. The digest keeps both out of `credrelay cache list`.
 */
function podCacheIdentity(pod: PodIdentity, annotations: readonly string[]): string {
  const digest = nodeCrypto().createHash('sha256').update(pod.token);
  for (const key of annotations) {
    digest.update(`\0${key}\0${pod.annotations[key] ?? ''}`);
  }
  return `pod ${pod.namespace}/${pod.serviceAccount} sha256:${digest.digest('hex').slice(0, 16)}`;
}

/** What each built-in provider needs in a route to pull as a CI job. */
const JOB_NEEDS: Readonly<Record<string, string>> = {
  ecr: 'give the route "roleArn" (the IAM role whose trust policy accepts the job\'s token)',
  gar: 'give the route "workloadIdentityProvider" (and "impersonate" for a service account)',
  acr: 'give the route "tenantId" and "clientId" (the app registration with a federated credential for the job)',
  dockerhub: 'give the route "connectionId" (the OIDC connection of the Docker Hub organization)',
};

const secretNotSet = async (name: string): Promise<string> => {
  throw new CredrelayError('SECRET_MISSING', `secret ${name} is not set: run \`credrelay secrets set ${name}\``);
};

type ContextFactory = Router['contextFor'];

function contextFactory(
  logger: Logger,
  resolveSecret: (name: string, pod?: SecretReader) => Promise<string>,
): ContextFactory {
  return (options, request, pod) => ({
    options,
    notice: (line) => request.notice(line),
    logger,
    async resolveSecret(name) {
      const value = await resolveSecret(name, pod);
      logger.redact(value);
      return value;
    },
  });
}

/** A kubelet request's pod as a reader of secrets: its token, and a key that tells it from every other pod. */
function secretReaderOf(pod: PodIdentity): SecretReader {
  return { token: pod.token, caller: podCacheIdentity(pod, []) };
}

/** The daemon's cache as the router keys it: per provider, identity and registry (or every registry). */
function cacheKeeper(
  cache: TokenCache | undefined,
  decide: (registry: RegistryIdentity, repository?: readonly string[]) => RoutingDecision,
) {
  const cacheRegistry = (decision: RoutingDecision): string =>
    decision.provider.cachePolicy?.sharedAcrossRegistries ? EVERY_REGISTRY : decision.registry.key;
  const identityOf = ({ provider, options }: RoutingDecision): string =>
    provider.cachePolicy?.identity?.(options) ??
    JSON.stringify(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    /** `caller`: the job or pod the credential was obtained for, when not the route's own identity alone. */
    fetch(decision: RoutingDecision, fetch: () => Promise<Credential | undefined>, caller?: string) {
      if (cache === undefined) return fetch();
      const node = identityOf(decision);
      const key = {
        provider: decision.provider.name,
        identity: caller === undefined ? node : `${node} ${caller}`,
        registry: cacheRegistry(decision),
      };
      const keepSeconds = decision.provider.cachePolicy?.keepSeconds?.(decision.options) ?? 0;
      return cache.get(key, fetch, keepSeconds * 1000);
    },
    clear(registry?: RegistryIdentity): number {
      if (cache === undefined) return 0;
      if (registry === undefined) return cache.clear();
      const decision = decide(registry);
      const shared = cacheRegistry(decision);
      return cache.clear(
        (entry) =>
          entry.registry === registry.key || (entry.registry === shared && entry.provider === decision.provider.name),
      );
    },
  };
}

async function store(
  decision: RoutingDecision,
  credentials: Credentials,
  contextFor: ContextFactory,
  request: RequestContext,
): Promise<void> {
  const storage = decision.provider.storage;
  if (storage === undefined) {
    // `docker login` to a registry whose tokens credrelay mints must not fail; there is just nothing to keep.
    request.notice(
      `credrelay: ${decision.registry.key} is served by the ${decision.provider.name} provider, which mints its own credentials; nothing was stored (to keep a password for it, give it a registries entry {"provider": "keychain"})`,
    );
    return;
  }
  const credential = { serverURL: credentials.ServerURL, username: credentials.Username, secret: credentials.Secret };
  await storage.store(decision.registry, credential, contextFor(decision.options, request));
}

async function erase(decision: RoutingDecision, contextFor: ContextFactory, request: RequestContext): Promise<void> {
  const storage = decision.provider.storage;
  if (storage === undefined) {
    request.notice(
      `credrelay: ${decision.registry.key} is served by the ${decision.provider.name} provider; nothing is stored to erase (cached tokens were dropped)`,
    );
    return;
  }
  await storage.erase(decision.registry, contextFor(decision.options, request));
}

/**
 * What `list` names: every registry a `registries` entry answers by exact host (Docker's legacy builder, compose v1
 * and docker-py ask `get` only for these), then what storage providers hold. A route's user name is what it knows
 * without fetching anything; nothing here makes a network call or reads a secret. Glob routes and the providers' own
 * matchers cannot be listed: `credrelay configure-docker --registries HOST,...` names such hosts in credHelpers, which
 * those callers also ask.
 */
async function list(providers: ProviderSet, context: ProviderContext): Promise<ReadonlyMap<string, string>> {
  const listed = new Map<string, string>();
  for (const route of providers.routes) {
    const provider = providers.byName.get(route.provider);
    // A keychain route lists what is stored for it, below; an exact route to it with nothing stored has nothing.
    // A route of some repositories only is never listed: Docker's callers ask per registry, and it cannot answer them.
    if (route.pattern.kind !== 'exact' || route.pattern.path !== undefined) continue;
    if (provider === undefined || provider === providers.keychain) continue;
    listed.set(dockerServerURL(route.pattern.identity), provider.routes?.listedUsername?.(route.options) ?? '');
  }
  for (const provider of providers.byName.values()) {
    let stored: readonly StoredEntry[];
    try {
      stored = (await provider.storage?.list(context)) ?? [];
    } catch (error) {
      // The legacy builder and compose v1 send no credential at all when `list` fails: the routes still answer, so
      // they are listed, and what could not be read is said on stderr.
      context.notice(`credrelay: ${toCredrelayError(error).message}; listing the configured routes only`);
      continue;
    }
    for (const entry of stored) listed.set(entry.serverURL, entry.username);
  }
  return listed;
}

/** The server string Docker itself uses for a registry: Docker Hub's legacy URL, else host[:port]. */
const dockerServerURL = (registry: RegistryIdentity): string =>
  registry.isDockerHub ? 'https://index.docker.io/v1/' : registry.key;
