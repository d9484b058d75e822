import type { Config } from '../core/config.js';
import { toCredrelayError } from '../core/errors.js';
import type { Credentials } from '../core/protocol/codec.js';
import type { RequestContext } from '../core/protocol/handler.js';
import { type RegistryIdentity, parseRegistry } from '../core/registry/identity.js';
import { referencedSecret } from '../core/secrets/secret-name.js';
import { withDeadline } from '../core/util/deadline.js';
import type { CacheRow } from '../core/wire/contract.js';
import { describeJobIdentity } from '../routing/job-identity.js';
import { EVERY_REGISTRY, type Router } from '../routing/router.js';

/**
 * What the management commands ask of a configuration's routes (`route`, `providers`, `login`, `logout`, `doctor`):
 * questions answered from the router the daemon and the in-process path answer with, so a command never reaches
 * into the router's decisions or a provider's parts, and says only what a `get` would do.
 */

const QUIET: RequestContext = { notice: () => undefined };

/** Where a registry goes and why, as `credrelay route` shows it: secret references named, never resolved. */
export interface RouteExplanation {
  readonly registry: RegistryIdentity;
  readonly reason: ReturnType<Router['decide']>['reason'];
  /** The reason in words. */
  readonly because: string;
  /** Whether the route reads the store (the keychain provider, or a `$NAME` secret). */
  readonly readsStore: boolean;
  readonly provider: { readonly name: string; readonly description: string };
  readonly options: Readonly<Record<string, unknown>>;
  /** Each option as `key=value`, a secret reference as its name. */
  readonly shownOptions: readonly string[];
  readonly jobIdentity?: ReturnType<Router['decide']>['jobIdentity'];
  /** Which CI identity the route pulls as, and whether this job can give it. */
  readonly identity?: string;
  /** The daemon's cached token for it; undefined when none, or no daemon (`cacheRows` undefined). */
  readonly cached: CacheRow | undefined;
}

export function explainRoute(
  router: Router,
  registry: RegistryIdentity,
  cacheRows: readonly CacheRow[] | undefined,
  repository?: readonly string[],
): RouteExplanation {
  const decision = router.decide(registry, repository);
  const { provider } = decision;
  const perRepository =
    decision.pathRoutes.length === 0
      ? ''
      : repository === undefined
        ? `; its repositories have routes of their own (${decision.pathRoutes.join(', ')}), which Docker's protocol cannot use (it asks per registry): name a repository (\`credrelay route ${registry.key}/REPOSITORY\`) to see the route the kubelet takes`
        : '; kubelet gets it for this image only (cacheKeyType Image), as each repository has its own route';
  const pathOnly = repository === undefined && decision.reason.kind !== 'registries' && decision.pathRoutes.length > 0;
  const because =
    (pathOnly
      ? `nothing for the registry as a whole: Docker-protocol callers (docker, BuildKit, podman, buildah, skopeo) get an error naming its repository routes (${decision.pathRoutes.join(', ')})`
      : decision.reason.kind === 'registries'
        ? `the registries entry ${JSON.stringify(decision.reason.key)}${decision.path ? ` (the repositories under ${decision.path.join('/')})` : ''}`
        : decision.reason.kind === 'matcher'
          ? `the ${provider.name} provider's host matcher (${provider.about?.hostPatterns.join(', ') ?? 'its own hosts'})`
          : 'no registries entry or provider claims it, so the keychain answers') + (pathOnly ? '' : perRepository);
  const shownOptions = Object.entries(decision.options).map(([key, value]) => {
    const secret = typeof value === 'string' ? referencedSecret(value) : undefined;
    return secret === undefined ? `${key}=${String(value)}` : `${key}=$${secret} (secret ${secret}, not shown)`;
  });
  // The store matters to a route that keeps credentials there (the keychain) or names a secret ($NAME, kept there or
  // in the caller's environment); an ECR or Google route without one never reads it.
  const readsStore =
    provider.storage !== undefined ||
    Object.values(decision.options).some((value) => typeof value === 'string' && referencedSecret(value) !== undefined);
  return {
    registry,
    reason: decision.reason,
    readsStore,
    because,
    provider: { name: provider.name, description: provider.about?.description ?? '(no description)' },
    options: decision.options,
    shownOptions,
    ...(decision.jobIdentity === undefined
      ? {}
      : { jobIdentity: decision.jobIdentity, identity: describeJobIdentity(decision.jobIdentity).text }),
    cached: cacheRows?.find(
      (row) => row.provider === provider.name && (row.registry === registry.key || row.registry === EVERY_REGISTRY),
    ),
  };
}

/** One provider as `credrelay providers` lists it. */
export interface ProviderSummary {
  readonly name: string;
  readonly description: string;
  readonly hostPatterns: readonly string[];
  /** Each route option with its description. */
  readonly options: Readonly<Record<string, string>>;
  /** The service-account annotations read when acting as a pod (kubelet mode); absent for node-only providers. */
  readonly podIdentityAnnotations?: readonly string[];
}

/** Every provider, in routing order (matchers first, the keychain last). */
export function providerSummaries(router: Router): ProviderSummary[] {
  return router.providers().map((provider) => {
    const annotations = provider.podIdentity?.annotations({});
    return {
      name: provider.name,
      description: provider.about?.description ?? '',
      hostPatterns: provider.about?.hostPatterns ?? [],
      options: Object.fromEntries(
        Object.entries(provider.routes?.options ?? {}).map(([key, spec]) => [key, spec.description]),
      ),
      ...(annotations === undefined ? {} : { podIdentityAnnotations: annotations }),
    };
  });
}

/** One registries entry as doctor checks it: whether its provider can answer now, and what it said. */
export interface RouteCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What works but not for every caller, and what to do about it. */
  readonly warning?: { readonly detail: string; readonly fix: string };
}

/**
 * Checks each exact-host registries entry the way its own provider diagnoses itself, each within `deadlineMs`; a
 * glob is checked on first use, a CI-identity route by whether this job can give the identity, and a pod-only route
 * only with a pod's token (checking the node's identity would prove nothing).
 */
export async function checkRoutes(router: Router, config: Config, deadlineMs: number): Promise<RouteCheck[]> {
  const checks: RouteCheck[] = [];
  const warnedHosts = new Set<string>();
  for (const entry of config.registries) {
    const name = `${entry.provider} for ${entry.written}`;
    const result = (ok: boolean, detail: string) => checks.push({ name, ok, detail });
    // A registry whose repositories have routes, but that has none as a whole: Docker-protocol callers cannot use them.
    if (entry.pattern.path !== undefined && entry.pattern.kind === 'exact') {
      const host = entry.pattern.identity;
      if (!warnedHosts.has(host.key) && router.decide(host).reason.kind !== 'registries') {
        warnedHosts.add(host.key);
        checks.push({
          name: `routes for ${host.key}`,
          ok: true,
          detail: `${router.decide(host).pathRoutes.join(', ')} take only some repositories`,
          warning: {
            detail: `docker, BuildKit, podman, buildah and skopeo ask per registry, so they cannot use the routes of ${host.key}'s repositories (${router.decide(host).pathRoutes.join(', ')}): only kubelet mode names the image`,
            fix: `add a route for the whole registry ("${host.key}") for them, or pull these repositories through the kubelet`,
          },
        });
      }
    }
    if (entry.pattern.kind !== 'exact') {
      result(true, 'a glob; its credentials are checked on first use');
      continue;
    }
    if (entry.jobIdentity !== undefined) {
      const identity = describeJobIdentity(entry.jobIdentity);
      result(identity.available, identity.text);
      continue;
    }
    if (entry.podIdentity === 'required') {
      result(true, 'pulled only as the pod, in kubelet mode: checked on each pull with its token');
      continue;
    }
    const decision = router.decide(entry.pattern.identity, entry.pattern.path);
    const diagnostics = decision.provider.diagnostics;
    if (diagnostics === undefined) {
      result(true, `served by ${decision.provider.name}`);
      continue;
    }
    try {
      const detail = await withDeadline(
        diagnostics.diagnose(entry.pattern.identity, router.contextFor(decision.options, QUIET)),
        deadlineMs,
        () => new Error(`no answer within ${deadlineMs / 1000} s`),
      );
      result(true, detail);
    } catch (error) {
      result(false, toCredrelayError(error).message);
    }
  }
  return checks;
}

/** Whether `credrelay login` keeps a password for a registry, or its provider obtains its own credentials. */
export function loginTarget(
  router: Router,
  registry: RegistryIdentity,
): { stored: true } | { stored: false; provider: string } {
  const decision = router.decide(registry);
  return decision.provider.storage === undefined
    ? { stored: false, provider: decision.provider.name }
    : { stored: true };
}

/** Keeps a login where its route keeps credentials (the protocol's `store`, as `docker login` would). */
export const storeLogin = (router: Router, credentials: Credentials, request: RequestContext): Promise<void> =>
  router.store(credentials, request);

/** What `credrelay logout` did: nothing stored by design (tokens dropped), removed, or nothing was there. */
export type LogoutOutcome =
  | { readonly kind: 'minted'; readonly provider: string }
  | { readonly kind: 'removed' }
  | { readonly kind: 'nothing-stored' };

/** Erases what is stored for a registry under any of its spellings, and drops its cached tokens. */
export async function logout(router: Router, serverURL: string, request: RequestContext): Promise<LogoutOutcome> {
  const registry = parseRegistry(serverURL);
  const decision = router.decide(registry);
  const storage = decision.provider.storage;
  if (storage === undefined) {
    // The router's notice says the same; the command says it once, where its answer goes.
    await router.erase(serverURL, QUIET);
    return { kind: 'minted', provider: decision.provider.name };
  }
  // What the keychain holds for this registry under any spelling, to tell "removed" from "there was nothing"; a
  // plugin's storage may not list, and is then taken at its word.
  const listed =
    decision.provider === router.providers().at(-1)
      ? await storage.list(router.contextFor(decision.options, QUIET))
      : undefined;
  const held = listed?.some((entry) => parseRegistry(entry.serverURL).key === registry.key);
  await router.erase(serverURL, request);
  return held === false ? { kind: 'nothing-stored' } : { kind: 'removed' };
}
