// Guest SDK for authkit-host handlers written in JavaScript.
//
// A handler is a WebAssembly component that authkit-host loads from its
// plugins directory; componentize-js builds it from an ES module. This
// module contains everything that does not touch the host's WIT imports, so
// handler logic also runs and tests under Node.js. `./component.js` binds
// it to the imports and exports a handler from the component.
//
// Every SDK call that reaches the host goes through the backend installed
// with `setBackend`: the WIT imports inside a component (`./component.js`)
// or an in-memory host in tests (`./testing.js`).

/** An error a handler reports to the host; the host receives only the message. */
export class AuthkitError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AuthkitError';
  }
}

/**
 * A store call the host rejected. `kind` is the WIT `store-error` case:
 * `invalid-key`, `value-too-large` or `unavailable`.
 */
export class StoreError extends AuthkitError {
  constructor(kind, detail) {
    const prefixes = {
      'invalid-key': 'invalid store key',
      'value-too-large': 'store value too large',
      unavailable: 'store unavailable',
    };
    super(`${prefixes[kind] ?? kind}: ${detail}`);
    this.name = 'StoreError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** A JSON document that did not parse into the expected shape. */
export class PayloadError extends AuthkitError {
  constructor(message) {
    super(message);
    this.name = 'PayloadError';
  }
}

let activeBackend = null;

/** Installs the object that SDK calls reach, and returns the previous one. */
export function setBackend(backend) {
  const previous = activeBackend;
  activeBackend = backend;
  return previous;
}

function backend() {
  if (activeBackend === null) {
    throw new Error(
      'no authkit host is attached: build the component from a module that imports ' +
        "'src/component.js', or run test code through MemoryHost.run() from 'src/testing.js'",
    );
  }
  return activeBackend;
}

// ---------------------------------------------------------------------------
// Values handlers receive and return.

/** The action kinds a handler can decide, as the WIT `action-kind` names them. */
export const ActionKind = Object.freeze({
  AUTHENTICATION: 'authentication',
  USER_REGISTRATION: 'user-registration',
});

/**
 * Returns a handler description. `name` keys the handler's store and
 * settings in the host, so keep it stable across versions. `events` takes
 * exact types (`user.created`), prefix patterns (`user.*`) or `*`.
 */
export function pluginInfo(name, version, { events = [], actions = [] } = {}) {
  for (const kind of actions) {
    if (!Object.values(ActionKind).includes(kind)) {
      throw new TypeError(
        `unknown action kind ${JSON.stringify(kind)}; expected ` +
          `${Object.values(ActionKind).map((k) => JSON.stringify(k)).join(' or ')}`,
      );
    }
  }
  return { name, version, events: [...events], actions: [...actions] };
}

/** Returns the verdict that lets the sign-in or registration proceed. */
export function allow() {
  return { tag: 'allow' };
}

/** Returns the verdict that stops it, with the message WorkOS shows to the user. */
export function deny(message) {
  if (typeof message !== 'string') {
    throw new TypeError(`deny() takes the message as a string, not ${typeof message}`);
  }
  return { tag: 'deny', val: message };
}

/** Parses `text` as JSON, naming `source` in the error. */
export function parseJson(source, text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PayloadError(`failed to parse ${source} as JSON: ${error.message}`);
  }
}

/** Returns the part of `email` after the last `@`, or `null` without one. */
export function emailDomain(email) {
  const at = email.lastIndexOf('@');
  return at < 0 ? null : email.slice(at + 1);
}

// Required fields of each payload kind, checked so that a malformed event
// fails with a message naming the field instead of a later TypeError.
const REQUIRED_FIELDS = {
  User: ['id', 'email'],
  Session: ['id', 'user_id'],
  Organization: ['id', 'name'],
  OrganizationMembership: ['id', 'user_id', 'organization_id'],
  DirectoryUser: ['id', 'directory_id'],
};

const PAYLOAD_KINDS = [
  ['user.', 'User'],
  ['session.', 'Session'],
  ['organization.', 'Organization'],
  ['organization_membership.', 'OrganizationMembership'],
  ['dsync.user.', 'DirectoryUser'],
];

function checkObject(kind, value, source) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PayloadError(`failed to parse ${source} as ${kind}: expected a JSON object`);
  }
  for (const field of REQUIRED_FIELDS[kind]) {
    if (typeof value[field] !== 'string') {
      const found = value[field] === undefined ? 'missing' : `${typeof value[field]}`;
      throw new PayloadError(
        `failed to parse ${source} as ${kind}: field \`${field}\` is ${found}; expected string`,
      );
    }
  }
  return value;
}

/**
 * Parses an event's `data` JSON and returns `{ kind, value }`, where `kind`
 * follows the event type: `User` (`user.*`), `Session` (`session.*`),
 * `Organization` (`organization.*`), `OrganizationMembership`
 * (`organization_membership.*`), `DirectoryUser` (`dsync.user.*`), or
 * `Other` for any other event. `value` is the object in the WorkOS wire
 * format (snake_case fields); its required fields are checked.
 */
export function parsePayload(eventType, data) {
  const source = `\`${eventType}\` event data`;
  const value = parseJson(source, data);
  for (const [prefix, kind] of PAYLOAD_KINDS) {
    if (eventType.startsWith(prefix)) {
      return { kind, value: checkObject(kind, value, source) };
    }
  }
  return { kind: 'Other', value };
}

/** One WorkOS event, as the host stored it, with parsing helpers. */
export class Event {
  constructor({ id, eventType, createdAt, data, context = undefined }) {
    /** The event id (`event_…`), unique across deliveries. */
    this.id = id;
    /** The event type, for example `user.created`. */
    this.eventType = eventType;
    /** When WorkOS created the event, as the ISO-8601 text it sent. */
    this.createdAt = createdAt;
    /** The `data` object exactly as received, as JSON text. */
    this.data = data;
    /** The optional `context` object as JSON text, or `undefined`. */
    this.context = context;
  }

  /** Parses `data`; see `parsePayload`. */
  payload() {
    return parsePayload(this.eventType, this.data);
  }

  /** Parses `data` as a WorkOS user, whatever the event type. */
  user() {
    const source = `\`${this.eventType}\` event data`;
    return checkObject('User', parseJson(source, this.data), source);
  }

  /** Parses `context` as JSON, or returns `undefined` without one. */
  contextJson() {
    if (this.context === undefined) {
      return undefined;
    }
    return parseJson(`\`${this.eventType}\` event context`, this.context);
  }
}

// ---------------------------------------------------------------------------
// The base class.

/**
 * The logic of one handler. Extend it and override `describe` and the
 * callbacks you need; the defaults:
 *
 * - `handleEvent` parses the data of `user.created`, `user.updated` and
 *   `user.deleted` and calls `onUserCreated`, `onUserUpdated` or
 *   `onUserDeleted` with `(event, user)`. Every other event goes to
 *   `onEvent`, which does nothing. The `onUser*` methods call `onEvent`.
 * - `handleAction` calls `onAuthentication(context)` or
 *   `onUserRegistration(context)`, which both allow.
 *
 * The host may create a new instance of the component for each call, so
 * keep state in `store`, never on `this` or in module variables. Throwing
 * fails the call: the host discards the call's store writes and retries an
 * event later, or returns its fallback verdict for an action. Events may
 * arrive more than once and out of order, so make event handling
 * idempotent.
 */
export class Handler {
  describe() {
    throw new Error(`${this.constructor.name} must override describe() to return pluginInfo(...)`);
  }

  handleEvent(event) {
    switch (event.eventType) {
      case 'user.created':
        return this.onUserCreated(event, event.user());
      case 'user.updated':
        return this.onUserUpdated(event, event.user());
      case 'user.deleted':
        return this.onUserDeleted(event, event.user());
      default:
        return this.onEvent(event);
    }
  }

  onUserCreated(event, _user) {
    return this.onEvent(event);
  }

  onUserUpdated(event, _user) {
    return this.onEvent(event);
  }

  /** `user` may carry only `id` and `email`: WorkOS may trim a deleted user. */
  onUserDeleted(event, _user) {
    return this.onEvent(event);
  }

  onEvent(_event) {}

  /** `action` is `{ kind, context }`; see `component.js` for the context fields. */
  handleAction(action) {
    if (action.kind === ActionKind.AUTHENTICATION) {
      return this.onAuthentication(action.context);
    }
    return this.onUserRegistration(action.context);
  }

  onAuthentication(_context) {
    return allow();
  }

  onUserRegistration(_context) {
    return allow();
  }
}

// ---------------------------------------------------------------------------
// Host imports.

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/** Logging into the host's log, which tags each line with the handler's name. */
export const log = Object.freeze({
  log(level, message) {
    if (!LEVELS.includes(level)) {
      throw new TypeError(`invalid log level ${JSON.stringify(level)}; expected one of ${LEVELS.join(', ')}`);
    }
    backend().log(level, String(message));
  },
  trace: (message) => log.log('trace', message),
  debug: (message) => log.log('debug', message),
  info: (message) => log.log('info', message),
  warn: (message) => log.log('warn', message),
  error: (message) => log.log('error', message),
});

/** Settings from the `[settings]` table of `<plugin>.toml`; values are strings. */
export const settings = Object.freeze({
  /** Returns the value of `key`, or `undefined` if it is not set. */
  get: (key) => backend().settingsGet(key),
  /** Returns every setting as `[key, value]` pairs, sorted by key. */
  all: () => backend().settingsAll(),
  /**
   * Returns `key` split at `separator`, each item trimmed and empty items
   * dropped, or `undefined` if it is not set.
   */
  getList(key, separator = ',') {
    const value = settings.get(key);
    if (value === undefined) {
      return undefined;
    }
    return value
      .split(separator)
      .map((item) => item.trim())
      .filter((item) => item !== '');
  },
});

/**
 * Read access to the users the host synced. Each lookup returns the user
 * record (camelCase fields as in the WIT `user` record, plus `raw`, the
 * WorkOS JSON) or `undefined` when there is no such user, deleted users
 * included.
 */
export const users = Object.freeze({
  byId: (id) => backend().findUser('id', id),
  byEmail: (email) => backend().findUser('email', email),
  byExternalId: (externalId) => backend().findUser('externalId', externalId),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeJson(key, bytes) {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new AuthkitError(
      `store value at key \`${key}\` is not valid JSON: ${error.message}; ` +
        'delete the key or store a value of the expected shape',
    );
  }
}

/**
 * The handler's private key-value store: string keys, byte values. A
 * call's writes commit together with the host's record of the event or
 * action, or not at all. The JSON helpers store compact UTF-8 JSON.
 */
export const store = Object.freeze({
  /** Returns the bytes at `key` as a Uint8Array, or `undefined`. */
  get: (key) => backend().storeGet(key),
  /** Stores a Uint8Array at `key`; use `setJson` or `setText` for other values. */
  set(key, value) {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(
        `store.set(${JSON.stringify(key)}, …) takes a Uint8Array; use store.setJson or store.setText`,
      );
    }
    backend().storeSet(key, value);
  },
  /** Deletes `key`; deleting an absent key succeeds. */
  delete: (key) => backend().storeDelete(key),
  /** Returns `{ key, value }` entries whose keys start with `prefix`, sorted by key. */
  list: (prefix) => backend().storeList(prefix),
  /** Returns the text at `key` decoded as UTF-8, or `undefined`. */
  getText(key) {
    const bytes = store.get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  },
  setText: (key, text) => store.set(key, encoder.encode(text)),
  /** Returns the value at `key` parsed from JSON, or `fallback` if absent. */
  getJson(key, fallback = undefined) {
    const bytes = store.get(key);
    return bytes === undefined ? fallback : decodeJson(key, bytes);
  },
  setJson(key, value) {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new AuthkitError(`failed to serialize the value for store key \`${key}\` as JSON`);
    }
    store.set(key, encoder.encode(text));
  },
  /** Returns `[key, parsed JSON]` pairs for the keys starting with `prefix`. */
  listJson: (prefix) => store.list(prefix).map(({ key, value }) => [key, decodeJson(key, value)]),
});
