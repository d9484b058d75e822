import { describe, expect, it } from 'vitest';
import { type Operation, type ThreadMessage, answer } from './keychain-thread.js';

/** A keyring module in memory, counting the entries it makes and able to break one connection. */
function fakeKeyring() {
  const passwords = new Map<string, string>();
  const made: string[] = [];
  let breakNext = false;
  class Entry {
    constructor(
      private readonly service: string,
      private readonly account: string,
    ) {
      made.push(`${service}/${account}`);
    }
    getPassword() {
      if (breakNext) {
        breakNext = false;
        throw new Error('D-Bus connection closed');
      }
      return passwords.get(`${this.service}/${this.account}`);
    }
    setPassword(password: string) {
      passwords.set(`${this.service}/${this.account}`, password);
    }
    deletePassword() {
      return passwords.delete(`${this.service}/${this.account}`);
    }
  }
  return { module: { Entry, findCredentials: () => [] }, made, breakConnection: () => (breakNext = true) };
}

const call = (message: Operation, id = 1, notAfter = Date.now() + 1000) =>
  ({ ...message, id, notAfter }) as ThreadMessage;

describe('the keychain thread', () => {
  it('sets, gets and deletes through one kept entry per item', () => {
    const keyring = fakeKeyring();
    const kept = new Map();
    expect(answer(keyring.module, call({ op: 'set', service: 's', account: 'a', password: 'p' }), kept)).toEqual({
      id: 1,
      ok: true,
      value: null,
    });
    expect(answer(keyring.module, call({ op: 'get', service: 's', account: 'a' }, 2), kept)).toEqual({
      id: 2,
      ok: true,
      value: 'p',
    });
    expect(answer(keyring.module, call({ op: 'delete', service: 's', account: 'a' }, 3), kept)).toEqual({
      id: 3,
      ok: true,
      value: true,
    });
    expect(keyring.made).toEqual(['s/a']);
  });

  it('drops a kept entry whose connection broke and tries once afresh', () => {
    const keyring = fakeKeyring();
    const kept = new Map();
    answer(keyring.module, call({ op: 'set', service: 's', account: 'a', password: 'p' }), kept);
    keyring.breakConnection();
    expect(answer(keyring.module, call({ op: 'get', service: 's', account: 'a' }, 2), kept)).toEqual({
      id: 2,
      ok: true,
      value: 'p',
    });
    expect(keyring.made).toEqual(['s/a', 's/a']);
  });

  it('skips a call whose caller gave up, and says why the module did not load', () => {
    const keyring = fakeKeyring();
    expect(answer(keyring.module, call({ op: 'get', service: 's', account: 'a' }, 4, 10), new Map(), 11)).toEqual({
      id: 4,
      ok: false,
      expired: true,
      message: 'expired',
    });
    expect(answer('cannot find module', call({ op: 'probe' }, 5), new Map())).toEqual({
      id: 5,
      ok: false,
      message: 'LOAD: cannot find module',
    });
    expect(keyring.made).toEqual([]);
  });
});
