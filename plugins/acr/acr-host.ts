import type { RegistryIdentity } from '../../src/plugin-api.js';

/** What differs between Azure's clouds for a registry: its host suffix, where Entra is, and the token's audience. */
export interface AzureCloud {
  readonly registrySuffix: string;
  readonly authorityHost: string;
  /**
   * The scope asked of Entra. The registry audience is accepted by every registry in Azure's public cloud; the
   * sovereign clouds' registries take an Azure Resource Manager token (unless the registry turned that off, when the
   * route's `scope` names the audience they take instead).
   */
  readonly scope: string;
}

export const AZURE_CLOUDS = {
  AzureCloud: {
    registrySuffix: 'azurecr.io',
    authorityHost: 'https://login.microsoftonline.com',
    scope: 'https://containerregistry.azure.net/.default',
  },
  AzureChinaCloud: {
    registrySuffix: 'azurecr.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    scope: 'https://management.chinacloudapi.cn/.default',
  },
  AzureUSGovernment: {
    registrySuffix: 'azurecr.us',
    authorityHost: 'https://login.microsoftonline.us',
    scope: 'https://management.usgovcloudapi.net/.default',
  },
} as const satisfies Record<string, AzureCloud>;

export type AzureCloudName = keyof typeof AZURE_CLOUDS;
export const AZURE_CLOUD_NAMES = Object.keys(AZURE_CLOUDS) as readonly AzureCloudName[];

/**
 * A registry's login server: one DNS label (the registry name, with the hash that a domain-name-label scope adds)
 * under a cloud's suffix, on the standard port. Anchored at both ends, so `x.azurecr.io.attacker.example` and
 * `a.b.azurecr.io` are not registries of Azure's.
 */
const ACR_HOST = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.(azurecr\.io|azurecr\.cn|azurecr\.us)$/;

/** The cloud of an Azure Container Registry host, or undefined for any other host. */
export function acrCloudOf(registry: RegistryIdentity): AzureCloudName | undefined {
  if (registry.port !== undefined) return undefined;
  const suffix = ACR_HOST.exec(registry.host)?.[1];
  return AZURE_CLOUD_NAMES.find((name) => AZURE_CLOUDS[name].registrySuffix === suffix);
}
