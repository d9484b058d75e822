import type { SecretSource } from '../../src/plugin-api.js';
import { awsSecretsManagerSource } from './aws-secretsmanager.js';
import { azureKeyVaultSource } from './azure-keyvault.js';
import { commandSource } from './command.js';
import { gcpSecretManagerSource } from './gcp-secretmanager.js';
import { onePasswordSource } from './onepassword.js';
import { vaultSource } from './vault.js';

/**
 * The places a named secret can live (the configuration's `secrets`), each loading its SDK only when a secret bound
 * to it is read.
 */
export const builtinSecretSources = (): SecretSource[] => [
  awsSecretsManagerSource,
  gcpSecretManagerSource,
  azureKeyVaultSource,
  vaultSource,
  onePasswordSource,
  commandSource,
];
