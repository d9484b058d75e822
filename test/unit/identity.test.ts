import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';

describe('parseRegistry: one identity for every spelling of a registry', () => {
  const sameRegistry: Array<[string, string]> = [
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://127.0.0.1:5000', '127.0.0.1:5000'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://127.0.0.1:5000/', '127.0.0.1:5000'],
    ['https://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['HTTPS://Registry.Example.COM', 'registry.example.com'],
    ['registry.example.com/some/path', 'registry.example.com'],
    ['registry.example.com:443', 'registry.example.com'],
    ['https://registry.example.com:443/v1/', 'registry.example.com'],
    ['localhost:5000', 'localhost:5000'],
    ['localhost', 'localhost'],
    ['[::1]:5000', '[::1]:5000'],
    ['https://[0:0:0:0:0:0:0:1]:5000', '[::1]:5000'],
    ['[FE80::1]', '[fe80::1]'],
    ['registry.example.com:05000', 'registry.example.com:5000'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
  ];
  it.each(sameRegistry)('%s -> %s', (input, key) => {
    expect(parseRegistry(input).key).toBe(key);
  });

  const dockerHub = [
    'https://index.docker.io/v1/',
    'index.docker.io',
    'docker.io',
    'registry-1.docker.io',
    'https://registry-1.docker.io/v2/',
    'DOCKER.IO',
    'docker.io:443',
  ];
  it.each(dockerHub)('Docker Hub spelling %s -> docker.io', (input) => {
    const identity = parseRegistry(input);
    expect(identity.key).toBe('docker.io');
    expect(identity.isDockerHub).toBe(true);
  });

  it('keeps the port as part of the identity', () => {
    expect(parseRegistry('host.example:5000').key).not.toBe(parseRegistry('host.example:5001').key);
    expect(parseRegistry('docker.io:5000').isDockerHub).toBe(false);
  });

  it('splits host and port', () => {
    expect(parseRegistry('https://Reg.Example:8443/x')).toEqual({
      host: 'reg.example',
      port: 8443,
      key: 'reg.example:8443',
      isDockerHub: false,
    });
  });

  const rejected: Array<[string, RegExp]> = [
    ['', /empty/],
    ['ftp://registry.example', /scheme must be https or http/],
    ['oci://registry.example', /scheme/],
    ['https://user:pass@registry.example', /user@host/],
    ['user@registry.example', /user@host/],
    ['https://registry.example.com@attacker.example', /user@host/],
    ['registry .example', /whitespace/],
    ['registry.example\t', /whitespace/],
    ['registry.example\u0000', /control/],
    ['regístry.example', /non-ASCII/],
    ['registry.example\u202e', /non-ASCII/],
    ['https://', /no host/],
    ['/just/a/path', /no host/],
    [':5000', /no host/],
    ['registry.example:0', /port/],
    ['registry.example:65536', /port/],
    ['registry.example:99999999', /port/],
    ['registry.example:-1', /port/],
    ['registry.example:http', /port/],
    ['registry.example:', /port/],
    ['registry.example.', /DNS labels/],
    ['registry..example', /DNS labels/],
    ['-registry.example', /DNS labels/],
    ['reg_istry.example', /DNS labels/],
    ['reg%69stry.example', /DNS labels/],
    ['registry.example\\@attacker.example', /user@host/],
    ['registry.example\\attacker.example', /DNS labels/],
    ['registry.example?x=1', /DNS labels/],
    ['registry.example#frag', /DNS labels/],
    ['[::1', /closing/],
    ['[::1]x', /after the IPv6/],
    ['[fe80::1%25eth0]', /IPv6/],
    ['[not-v6]', /IPv6/],
    ['[1:2:3:4:5:6:7:8:9]', /IPv6/],
    [`${'a'.repeat(64)}.example`, /DNS labels/],
    [`${'a.'.repeat(127)}example`, /longer than 253/],
  ];
  it.each(rejected)('rejects %j', (input, why) => {
    expect(() => parseRegistry(input)).toThrowError(why);
  });

  it('never quotes the input in its error', () => {
    expect(() => parseRegistry('https://alice:s3cr3t-canary@registry.example')).toThrowError(
      expect.objectContaining({ code: 'INVALID_SERVER_URL', message: expect.not.stringContaining('s3cr3t-canary') }),
    );
  });
});
