import type { SecretStore } from '../../src/core/store/secret-store.js';

/** A secret store over a Map: the stand-in for the OS keychain in unit tests. */
export function memorySecretStore(): SecretStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  const id = (service: string, account: string) => JSON.stringify([service, account]);
  return {
    items,
    async getPassword(service, account) {
      return items.get(id(service, account)) ?? null;
    },
    async setPassword(service, account, password) {
      items.set(id(service, account), password);
    },
    async deletePassword(service, account) {
      return items.delete(id(service, account));
    },
    async findCredentials(service) {
      return [...items]
        .map(([key, password]) => ({ key: JSON.parse(key) as [string, string], password }))
        .filter(({ key }) => key[0] === service)
        .map(({ key, password }) => ({ account: key[1], password }));
    },
  };
}
