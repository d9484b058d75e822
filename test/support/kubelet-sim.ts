/**
 * The kubelet's side of an exec image credential provider, as pkg/credentialprovider does it: a cache of responses
 * by their cacheKeyType (an image's own key, then its registry's, then the global one are looked up in that order,
 * each until its cacheDuration runs out), and a keyring that matches an image against the response's `auth` keys
 * (host labels with `*` globs, the same port, and the key's path as a string prefix of the image's path), trying the
 * matches in reverse lexicographic key order (the most specific first). Enough to play a sequence of pulls.
 */
export interface AuthEntry {
  readonly username: string;
  readonly password: string;
}

interface Response {
  readonly cacheKeyType: 'Image' | 'Registry' | 'Global';
  readonly cacheDuration?: string;
  readonly auth: Readonly<Record<string, AuthEntry>>;
}

/** The registry part of an image as kubelet's cache keys it (`docker.io` for Docker Hub names). */
function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  return image.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : 'docker.io';
}

/** kubelet's URLsMatchStr: host label globs, equal ports, the key's path a string prefix of the image's. */
export function keyMatches(key: string, image: string): boolean {
  const parse = (text: string) => new URL(`https://${text}`);
  const glob = parse(key);
  const target = parse(image.includes('/') && /[.:]/.test(image.split('/')[0]!) ? image : `docker.io/${image}`);
  const globLabels = glob.hostname.split('.');
  const targetLabels = target.hostname.split('.');
  if (globLabels.length !== targetLabels.length) return false;
  if (!globLabels.every((label, index) => label === '*' || label === targetLabels[index])) return false;
  if (glob.port !== target.port) return false;
  return target.pathname.startsWith(glob.pathname === '/' ? '/' : glob.pathname);
}

export class KubeletSim {
  private readonly cache = new Map<string, Response>();
  /** How many times the plugin ran. */
  execs = 0;

  constructor(private readonly plugin: (image: string) => Promise<Response>) {}

  /** The credential the kubelet would try first for an image, after asking the plugin if no cached answer fits. */
  async credentialFor(image: string): Promise<AuthEntry | undefined> {
    const cached =
      this.cache.get(`image:${image}`) ?? this.cache.get(`registry:${registryOf(image)}`) ?? this.cache.get('global');
    let response = cached;
    if (response === undefined) {
      this.execs += 1;
      response = await this.plugin(image);
      if (response.cacheDuration !== '0s') {
        const key =
          response.cacheKeyType === 'Image'
            ? `image:${image}`
            : response.cacheKeyType === 'Registry'
              ? `registry:${registryOf(image)}`
              : 'global';
        this.cache.set(key, response);
      }
    }
    const keys = Object.keys(response.auth)
      .filter((key) => keyMatches(key, image))
      .sort()
      .reverse();
    return keys.length === 0 ? undefined : response.auth[keys[0]!];
  }
}
