import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../../test/support/temp.js';
import { awsSecretsManagerSource } from './aws-secretsmanager.js';
import { azureKeyVaultSource } from './azure-keyvault.js';
import { gcpSecretManagerSource } from './gcp-secretmanager.js';
import { vaultSource } from './vault.js';

const provider = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/providers/runner';

describe('what each source needs to read a secret as the CI job', () => {
  it('gcp-secretmanager: a workload identity provider, and only with jobIdentity', () => {
    const name = 'projects/p/secrets/s/versions/latest';
    expect(gcpSecretManagerSource.check!({ name }, true)).toMatch(/give it "workloadIdentityProvider"/);
    expect(gcpSecretManagerSource.check!({ name, workloadIdentityProvider: provider }, false)).toMatch(
      /give "jobIdentity"/,
    );
    expect(gcpSecretManagerSource.check!({ name, workloadIdentityProvider: provider }, true)).toBe(undefined);
    expect(
      gcpSecretManagerSource.check!(
        {
          name,
          workloadIdentityProvider: provider,
          stsEndpoint: 'http://sts.example',
        },
        true,
      ),
    ).toMatch(/"stsEndpoint" must be an https:\/\/ URL/);
  });

  it('azure-keyvault: a tenant and an app registration, and clientId only with jobIdentity', () => {
    const base = { vault: 'https://corp.vault.azure.net', name: 'hub' };
    expect(azureKeyVaultSource.check!({ ...base, tenantId: 't' }, true)).toMatch(/give it "tenantId" and "clientId"/);
    expect(azureKeyVaultSource.check!({ ...base, clientId: '7d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60' }, false)).toMatch(
      /give "jobIdentity" too/,
    );
    expect(
      azureKeyVaultSource.check!(
        {
          ...base,
          tenantId: 't',
          clientId: '7d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60',
        },
        true,
      ),
    ).toBe(undefined);
  });

  it('aws-secretsmanager: a role to assume with the token', () => {
    expect(awsSecretsManagerSource.check!({ id: 'ci/hub' }, true)).toMatch(/give it "roleArn"/);
  });
});

describe("vault's tokenFile", () => {
  const scratch = makeTempDir('vault-token-file');
  afterAll(() => scratch.remove());
  const context = { name: 'HUB', deadlineMs: 5000, logger: silentLogger };

  it('is read as a job token file is: a FIFO is refused at once, never waited on', async () => {
    const fifo = join(scratch.path, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const options = { address: 'http://127.0.0.1:9', path: 'ci/hub', tokenFile: fifo };
    await expect(vaultSource.fetch(options, context)).rejects.toThrow(
      /secret HUB \(Vault secret\/ci\/hub\): the token file is not used: it is not a regular file; point "tokenFile" at the file that holds the token/,
    );
    const missing = { ...options, tokenFile: join(scratch.path, 'none') };
    await expect(vaultSource.fetch(missing, context)).rejects.toThrow(
      /the token file .*none cannot be read \(ENOENT\)/,
    );
  });

  it("a private token file's token is what Vault receives", async () => {
    const file = join(scratch.path, 'token');
    writeFileSync(file, 'hvs.from-file\n', { mode: 0o600 });
    const seen: unknown[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers['x-vault-token']);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: { data: { token: 'value' } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const options = { address: `http://127.0.0.1:${port}`, path: 'ci/hub', tokenFile: file };
      expect(await vaultSource.fetch(options, context)).toEqual({ token: 'value' });
      expect(seen).toEqual(['hvs.from-file']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
