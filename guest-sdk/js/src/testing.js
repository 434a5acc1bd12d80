// An in-memory stand-in for the host, to test handler logic under Node.js.
//
//   const host = new MemoryHost({ settings: { allowed_domains: 'example.com' } });
//   const verdict = host.run(() => new MyHandler().handleAction(action));
//   assert.deepEqual(host.storeJson('signins/user_1'), { count: 1 });
//
// Unlike the host it applies writes at once and never rolls them back, and
// it does not enforce the host's key and value size limits.

import { setBackend } from './index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Orders `[key, value]` pairs by key in code unit order, as the host sorts keys. */
function byKey([left], [right]) {
  if (left < right) {
    return -1;
  }
  return left > right ? 1 : 0;
}

/** The host imports backed by maps: `store`, `settings`, `users` and `logs`. */
export class MemoryHost {
  constructor({ settings = {}, users = [] } = {}) {
    /** Store entries by key, as Uint8Array values. */
    this.store = new Map();
    this.settings = new Map(Object.entries(settings));
    /** User records as the `users` lookups return them (camelCase fields). */
    this.users = [...users];
    /** `[level, message]` pairs logged so far. */
    this.logs = [];
  }

  /** Runs `callback` with this host attached and returns its result. */
  run(callback) {
    const previous = setBackend(this);
    try {
      return callback();
    } finally {
      setBackend(previous);
    }
  }

  /** Returns the value at `key` parsed from JSON, or `undefined`. */
  storeJson(key) {
    const value = this.store.get(key);
    return value === undefined ? undefined : JSON.parse(decoder.decode(value));
  }

  /** Stores `value` at `key` as JSON, to set up a test. */
  putJson(key, value) {
    this.store.set(key, encoder.encode(JSON.stringify(value)));
  }

  log(level, message) {
    this.logs.push([level, message]);
  }

  storeGet(key) {
    return this.store.get(key);
  }

  storeSet(key, value) {
    this.store.set(key, Uint8Array.from(value));
  }

  storeDelete(key) {
    this.store.delete(key);
  }

  storeList(prefix) {
    return [...this.store.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(byKey)
      .map(([key, value]) => ({ key, value }));
  }

  settingsGet(key) {
    return this.settings.get(key);
  }

  settingsAll() {
    return [...this.settings.entries()].sort(byKey);
  }

  findUser(by, value) {
    return this.users.find((user) =>
      by === 'email' ? user.email.toLowerCase() === value.toLowerCase() : user[by] === value,
    );
  }
}
