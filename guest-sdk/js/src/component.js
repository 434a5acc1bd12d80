// Binds the SDK to the host's imports and exports a handler from the
// component. Import it only from the module componentize-js builds: the
// `authkit:plugin/*` specifiers exist only there, so Node.js cannot load it.
//
//   import { exportHandler } from '<sdk>/src/component.js';
//   export const handler = exportHandler(new MyHandler());
//
// componentize-js exports the module's `handler` binding as the WIT
// `handler` interface.

import { log as hostLog } from 'authkit:plugin/log@0.1.0';
import * as hostSettings from 'authkit:plugin/settings@0.1.0';
import * as hostStore from 'authkit:plugin/store@0.1.0';
import * as hostUsers from 'authkit:plugin/users@0.1.0';

import { ActionKind, AuthkitError, Event, Handler, StoreError, log, setBackend } from './index.js';

// The generated bindings throw the `err` case of a WIT `result` as an
// error whose `payload` is the case value.
function errorPayload(error) {
  return error && typeof error === 'object' && 'payload' in error ? error.payload : error;
}

function callStore(operation, ...args) {
  try {
    return operation(...args);
  } catch (error) {
    const payload = errorPayload(error);
    if (payload && typeof payload === 'object' && 'tag' in payload) {
      throw new StoreError(payload.tag, payload.val);
    }
    throw error;
  }
}

const USER_LOOKUPS = {
  id: hostUsers.getById,
  email: hostUsers.getByEmail,
  externalId: hostUsers.getByExternalId,
};

/** The backend that calls the generated `authkit:plugin` bindings. */
const witBackend = {
  log: (level, message) => hostLog(level, message),
  storeGet: (key) => callStore(hostStore.get, key),
  storeSet: (key, value) => callStore(hostStore.set, key, value),
  storeDelete: (key) => callStore(hostStore.delete, key),
  storeList: (prefix) => callStore(hostStore.list, prefix),
  settingsGet: (key) => hostSettings.get(key),
  settingsAll: () => hostSettings.all(),
  findUser(by, value) {
    try {
      return USER_LOOKUPS[by](value);
    } catch (error) {
      throw new AuthkitError(`failed to look up user ${by} \`${value}\`: ${errorPayload(error)}`);
    }
  },
};

setBackend(witBackend);

/**
 * Runs a handler callback. An error becomes the `err` string the host
 * expects: an `AuthkitError` is a reported failure, anything else is a bug,
 * so its stack also goes to the host's log at error level.
 */
function run(callback) {
  let result;
  try {
    result = callback();
  } catch (error) {
    if (error instanceof AuthkitError) {
      throw error.message;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log.error(`handler threw an exception: ${error instanceof Error ? error.stack || message : message}`);
    throw message;
  }
  // The exports are synchronous, so a promise would never be awaited and
  // its work and errors would be lost.
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    throw 'the handler returned a Promise; handler callbacks must be synchronous (no async)';
  }
  return result;
}

/**
 * Returns the object componentize-js exports as the `handler` interface.
 *
 * `handler` is an instance of a `Handler` subclass. The returned object
 * wraps each WIT event in an `Event`, passes actions as
 * `{ kind, context }` with the WIT context record (camelCase fields, for
 * example `context.userData.email` or `context.user.id`), checks the
 * verdict, and turns an exception into the `result` error.
 */
export function exportHandler(handler) {
  if (!(handler instanceof Handler)) {
    throw new TypeError('exportHandler() takes an instance of a Handler subclass');
  }
  return {
    describe() {
      const info = handler.describe();
      return {
        name: info.name,
        version: info.version,
        events: [...(info.events ?? [])],
        actions: [...(info.actions ?? [])],
      };
    },

    handleEvent(event) {
      run(() => handler.handleEvent(new Event(event)));
    },

    handleAction(action) {
      const kind =
        action.tag === 'authentication' ? ActionKind.AUTHENTICATION : ActionKind.USER_REGISTRATION;
      const verdict = run(() => handler.handleAction({ kind, context: action.val }));
      if (verdict && verdict.tag === 'allow') {
        return { tag: 'allow' };
      }
      if (verdict && verdict.tag === 'deny' && typeof verdict.val === 'string') {
        return { tag: 'deny', val: verdict.val };
      }
      throw `${handler.constructor.name} returned ${JSON.stringify(verdict)} for an action; return allow() or deny(message)`;
    },
  };
}
