import type { JobIdentitySetting, PodIdentityMode } from '../core/config.js';
import type { RegistryIdentity } from '../core/registry/identity.js';
import { type RegistryPattern, compareSpecificity, globMatches } from '../core/registry/registry-pattern.js';

/** A configured route: the `registries` key as written, its pattern, and where it sends the registry. */
export interface Route {
  readonly written: string;
  readonly pattern: RegistryPattern;
  readonly provider: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly podIdentity: PodIdentityMode;
  readonly jobIdentity?: JobIdentitySetting;
}

/** The `registries` of the configuration, ready for lookups: exact keys first, then globs by specificity. */
export class RouteTable {
  private readonly exact = new Map<string, Route>();
  private readonly globs: Array<Route & { pattern: Extract<RegistryPattern, { kind: 'glob' }> }> = [];

  constructor(routes: Iterable<Route>) {
    for (const route of routes) {
      if (route.pattern.kind === 'exact') this.exact.set(route.pattern.key, route);
      else this.globs.push(route as Route & { pattern: Extract<RegistryPattern, { kind: 'glob' }> });
    }
    this.globs.sort((a, b) => compareSpecificity(a.pattern, b.pattern));
  }

  lookup(registry: RegistryIdentity): Route | undefined {
    return this.exact.get(registry.key) ?? this.globs.find((route) => globMatches(route.pattern, registry));
  }

  get size(): number {
    return this.exact.size + this.globs.length;
  }
}
