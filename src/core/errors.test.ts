import { describe, expect, it } from 'vitest';
import { CredrelayError, toCredrelayError } from './errors.js';

describe('CredrelayError across copies of the module', () => {
  it('is one type for every copy in the process (a bundle, a plugin of its own install), and nothing else', async () => {
    // A second instance of this very module, with a class object of its own: as the CLI bundle and a plugin's copy.
    const copy = (await import(/* @vite-ignore */ `./errors.js?copy=${Date.now()}`)) as typeof import('./errors.js');
    expect(copy.CredrelayError).not.toBe(CredrelayError);
    const foreign = new copy.CredrelayError('PROVIDER_FAILED', 'ECR credentials for r: no AWS credentials found');
    expect(foreign).toBeInstanceOf(CredrelayError);
    expect(new CredrelayError('INTERNAL', 'x')).toBeInstanceOf(copy.CredrelayError);
    expect(toCredrelayError(foreign)).toBe(foreign);

    // Looking like one is not enough: an error shaped alike, from code that is not credrelay's, stays unexplained.
    const lookalike = Object.assign(new Error('x'), { name: 'CredrelayError', code: 'PROVIDER_FAILED' });
    expect(lookalike).not.toBeInstanceOf(CredrelayError);
    expect(toCredrelayError(lookalike).code).toBe('INTERNAL');
    expect(toCredrelayError(null).code).toBe('INTERNAL');
    expect(toCredrelayError('text').code).toBe('INTERNAL');
  });
});
