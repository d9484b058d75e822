import { type AwsProxy, startAwsProxy } from './aws-proxy.js';
import {
  type Entra,
  type EntraApp,
  type FakeAcr,
  type IssuedTokens,
  startEntra,
  startFakeAcr,
} from './azure-endpoints.js';
import { type IamCredentialsServer, type StsServer, startIamCredentials, startStsServer } from './google-endpoints.js';
import { type Moto, startMoto } from './moto.js';
import type { Registry } from './registry.js';
import { makeTestCertificates } from './tls.js';

/**
 * The cloud side of a workload-identity exchange, on loopback, for the pod-identity and job-identity suites: moto
 * (STS AssumeRoleWithWebIdentity and ECR) behind the recording proxy, Google's Security Token Service and IAM
 * Credentials, Microsoft Entra over HTTPS for one tenant and its applications, and an ACR front to `backend` that
 * accepts the tokens Entra issued. `env` points credrelay at all of them.
 */
export interface IdentityEndpoints {
  readonly moto: Moto;
  readonly proxy: AwsProxy;
  readonly sts: StsServer;
  readonly iam: IamCredentialsServer;
  readonly entra: Entra;
  readonly acr: FakeAcr;
  /** The access tokens Entra issued, with who to. */
  readonly issued: IssuedTokens;
  /** AWS endpoints (and no instance metadata), the test CA, Entra's authority host. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startIdentityEndpoints(
  root: string,
  backend: Registry,
  tenant: string,
  apps: readonly EntraApp[],
): Promise<IdentityEndpoints> {
  const issued: IssuedTokens = new Map();
  const certificates = makeTestCertificates(root);
  const moto = await startMoto();
  const [proxy, sts, iam, entra] = await Promise.all([
    startAwsProxy(moto.endpoint),
    startStsServer(),
    startIamCredentials(),
    startEntra(certificates, tenant, apps, issued),
  ]);
  const acr = await startFakeAcr(backend, (token) => issued.has(token));
  return {
    moto,
    proxy,
    sts,
    iam,
    entra,
    acr,
    issued,
    env: {
      AWS_ENDPOINT_URL_ECR: proxy.endpoint,
      AWS_ENDPOINT_URL_STS: proxy.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      NODE_EXTRA_CA_CERTS: certificates.caPath,
      AZURE_AUTHORITY_HOST: entra.authorityHost,
    },
    async stop() {
      await Promise.all([proxy.stop(), moto.stop(), sts.stop(), iam.stop(), entra.stop(), acr.stop()]);
    },
  };
}
