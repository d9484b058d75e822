import type { RegistryEntry } from '../core/config.js';
import type { RegistryIdentity } from '../core/registry/identity.js';
import {
  type RegistryPattern,
  compareSpecificity,
  globMatches,
  pathCovers,
} from '../core/registry/registry-pattern.js';

/** A configured route: a validated `registries` entry (its key as written, its pattern, where it sends). */
export type Route = RegistryEntry;

type GlobRoute = Route & { pattern: Extract<RegistryPattern, { kind: 'glob' }> };

/** Whether a route's registry part (exact or glob, its path aside) is this registry. */
const hostMatches = (pattern: RegistryPattern, registry: RegistryIdentity): boolean =>
  pattern.kind === 'exact' ? pattern.identity.key === registry.key : globMatches(pattern, registry);

/**
 * The `registries` of the configuration, ready for lookups. For a repository: the route with the longest path that
 * covers it, whole segments (an exact host before a glob at the same length, then the more specific glob); then, as
 * for a registry alone, the exact key, then the most specific glob, among routes without a path.
 */
export class RouteTable {
  private readonly exact = new Map<string, Route>();
  private readonly globs: GlobRoute[] = [];
  private readonly withPath: Route[] = [];

  constructor(routes: Iterable<Route>) {
    for (const route of routes) {
      if (route.pattern.path !== undefined) this.withPath.push(route);
      else if (route.pattern.kind === 'exact') this.exact.set(route.pattern.key, route);
      else this.globs.push(route as GlobRoute);
    }
    this.globs.sort((a, b) => compareSpecificity(a.pattern, b.pattern));
    this.withPath.sort((a, b) => {
      const length = b.pattern.path!.length - a.pattern.path!.length;
      if (length !== 0) return length;
      if (a.pattern.kind !== b.pattern.kind) return a.pattern.kind === 'exact' ? -1 : 1;
      return a.pattern.kind === 'glob' && b.pattern.kind === 'glob'
        ? compareSpecificity(a.pattern, b.pattern)
        : a.pattern.key < b.pattern.key
          ? -1
          : 1;
    });
  }

  /** The route for a registry, or for one repository of it (`repository`: its path's segments). */
  lookup(registry: RegistryIdentity, repository?: readonly string[]): Route | undefined {
    if (repository !== undefined) {
      const byPath = this.withPath.find(
        (route) => hostMatches(route.pattern, registry) && pathCovers(route.pattern.path!, repository),
      );
      if (byPath !== undefined) return byPath;
    }
    return this.exact.get(registry.key) ?? this.globs.find((route) => globMatches(route.pattern, registry));
  }

  /** The routes of this registry that take only some of its repositories (their keys as written). */
  pathRoutes(registry: RegistryIdentity): string[] {
    return this.withPath.filter((route) => hostMatches(route.pattern, registry)).map((route) => route.written);
  }

  get size(): number {
    return this.exact.size + this.globs.length + this.withPath.length;
  }
}
