import { describe, expect, it } from 'vitest';
import { awsSecretsManagerSource } from './aws-secretsmanager.js';
import { azureKeyVaultSource } from './azure-keyvault.js';
import { gcpSecretManagerSource } from './gcp-secretmanager.js';

const job = { source: 'file', path: '/run/job-token' };
const provider = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/providers/runner';

describe('what each source needs to read a secret as the CI job', () => {
  it('gcp-secretmanager: a workload identity provider, and only with jobIdentity', () => {
    const name = 'projects/p/secrets/s/versions/latest';
    expect(gcpSecretManagerSource.check!({ name, jobIdentity: job })).toMatch(/give it "workloadIdentityProvider"/);
    expect(gcpSecretManagerSource.check!({ name, workloadIdentityProvider: provider })).toMatch(/give "jobIdentity"/);
    expect(gcpSecretManagerSource.check!({ name, workloadIdentityProvider: provider, jobIdentity: job })).toBe(
      undefined,
    );
    expect(
      gcpSecretManagerSource.check!({
        name,
        workloadIdentityProvider: provider,
        jobIdentity: job,
        stsEndpoint: 'http://sts.example',
      }),
    ).toMatch(/"stsEndpoint" must be an https:\/\/ URL/);
  });

  it('azure-keyvault: a tenant and an app registration, and clientId only with jobIdentity', () => {
    const base = { vault: 'https://corp.vault.azure.net', name: 'hub' };
    expect(azureKeyVaultSource.check!({ ...base, tenantId: 't', jobIdentity: job })).toMatch(
      /give it "tenantId" and "clientId"/,
    );
    expect(azureKeyVaultSource.check!({ ...base, clientId: '7d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60' })).toMatch(
      /give "jobIdentity" too/,
    );
    expect(
      azureKeyVaultSource.check!({
        ...base,
        tenantId: 't',
        clientId: '7d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60',
        jobIdentity: job,
      }),
    ).toBe(undefined);
  });

  it('aws-secretsmanager: a role to assume with the token', () => {
    expect(awsSecretsManagerSource.check!({ id: 'ci/hub', jobIdentity: job })).toMatch(/give it "roleArn"/);
  });
});
