import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, run } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';

/**
 * `credrelay login` sends Basic credentials to the token service (realm) a registry names. On loopback a registry may
 * speak plain HTTP, but its realm may not be another host or port over plain HTTP without --insecure, and never
 * plain HTTP when the registry itself is reached over TLS.
 */
let session: Keyring;
let certificate: { key: string; cert: string };
const servers: Server[] = [];

beforeAll(async () => {
  session = await startKeyring();
  const key = join(session.root, 'tls.key');
  const cert = join(session.root, 'tls.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  certificate = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
});
afterAll(async () => {
  for (const server of servers) server.close();
  await session.stop();
});

const listen = async (server: Server): Promise<number> => {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

/** A token service that counts the requests carrying credentials, and accepts them. */
async function tokenService(): Promise<{ port: number; withCredentials: () => number }> {
  let withCredentials = 0;
  const port = await listen(
    createServer((request, response) => {
      if (request.headers.authorization) withCredentials += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    }),
  );
  return { port, withCredentials: () => withCredentials };
}

/** A registry whose /v2/ asks for a Bearer token from `realm(port)`; its own /token answers too. */
async function registry(realm: (ownPort: number) => string, tls = false): Promise<number> {
  let ownPort = 0;
  const handler = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
    if (request.url?.startsWith('/token')) {
      response.writeHead(request.headers.authorization ? 200 : 401).end('{"token":"t"}');
      return;
    }
    response.writeHead(401, { 'www-authenticate': `Bearer realm="${realm(ownPort)}",service="test"` }).end();
  };
  ownPort = await listen(tls ? (createHttpsServer(certificate, handler) as unknown as Server) : createServer(handler));
  return ownPort;
}

const login = (port: number, extra: string[] = []) =>
  run(CLI, ['login', `127.0.0.1:${port}`, '-u', 'realm-user', '--password-stdin', ...extra], {
    env: session.env,
    input: 'realm-password-canary',
  });

describe('credrelay login and the token service it sends the password to', () => {
  it('refuses a plain-HTTP realm on another port of a loopback registry without --insecure', async () => {
    const token = await tokenService();
    const port = await registry(() => `http://127.0.0.1:${token.port}/token`);
    const result = await login(port);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /sends logins to a token service on another host or port without TLS .*pass --insecure/,
    );
    expect(token.withCredentials()).toBe(0);
  });

  it("accepts a plain-HTTP realm at the loopback registry's own origin", async () => {
    const port = await registry((own) => `http://127.0.0.1:${own}/token`);
    const result = await login(port);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Login Succeeded/);
  });

  it('with --insecure, sends to a plain-HTTP realm elsewhere', async () => {
    const token = await tokenService();
    const port = await registry(() => `http://127.0.0.1:${token.port}/token`);
    const result = await login(port, ['--insecure']);
    expect(result.code, result.stderr).toBe(0);
    expect(token.withCredentials()).toBe(1);
  });

  it('never sends to a plain-HTTP realm when the registry is reached over TLS, --insecure or not', async () => {
    const token = await tokenService();
    const port = await registry(() => `http://127.0.0.1:${token.port}/token`, true);
    const result = await login(port, ['--insecure']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is reached over TLS but sends logins to a token service without it/);
    expect(token.withCredentials()).toBe(0);
  });
});
