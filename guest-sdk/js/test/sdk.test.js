// Unit tests of the SDK under Node.js, against MemoryHost: run
// `node --test guest-sdk/js/test/`. `src/component.js` imports the WIT
// interfaces, which exist only inside a component, so
// tests/integration/polyglot.rs covers it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  AuthkitError,
  Event,
  Handler,
  PayloadError,
  StoreError,
  allow,
  deny,
  emailDomain,
  parsePayload,
  pluginInfo,
  settings,
  store,
} from '../src/index.js';
import { MemoryHost } from '../src/testing.js';

function sampleEvent(file) {
  const body = JSON.parse(
    readFileSync(new URL(`../../../examples/events/${file}`, import.meta.url), 'utf8'),
  );
  return new Event({
    id: body.id,
    eventType: body.event,
    createdAt: body.created_at,
    data: JSON.stringify(body.data),
  });
}

test('sample events parse to their kind', () => {
  const expected = {
    '01-user.created.json': 'User',
    '02-session.created.json': 'Session',
    '04-organization.created.json': 'Organization',
    '05-organization_membership.created.json': 'OrganizationMembership',
    '08-user.deleted.json': 'User',
    '09-dsync.user.created.json': 'DirectoryUser',
  };
  for (const [file, kind] of Object.entries(expected)) {
    assert.equal(sampleEvent(file).payload().kind, kind, file);
  }
  assert.equal(parsePayload('role.created', '{"slug":"x"}').kind, 'Other');
});

test('missing field named in error', () => {
  assert.throws(
    () => parsePayload('session.created', '{"id":"session_1"}'),
    (error) => error instanceof PayloadError && /`user_id` is missing/.test(error.message),
  );
  assert.throws(() => parsePayload('user.created', '{'), /`user.created` event data/);
});

test('store JSON round trip', () => {
  const host = new MemoryHost();
  host.run(() => {
    store.setJson('k/1', { name: 'Zielińska', n: 1 });
    assert.deepEqual(store.getJson('k/1'), { name: 'Zielińska', n: 1 });
    assert.equal(store.getJson('absent', 0), 0);
    store.setText('t', 'tekst');
    assert.equal(store.getText('t'), 'tekst');
  });
  assert.equal(new TextDecoder().decode(host.store.get('k/1')), '{"name":"Zielińska","n":1}');
});

test('store list sorted within prefix', () => {
  const host = new MemoryHost();
  host.run(() => {
    for (const key of ['b/2', 'a/1', 'b/1', 'b0']) {
      store.setText(key, key);
    }
    assert.deepEqual(
      store.list('b/').map(({ key }) => key),
      ['b/1', 'b/2'],
    );
    assert.deepEqual(store.listJson('none/'), []);
  });
});

test('store rejects bad values and JSON', () => {
  const host = new MemoryHost();
  host.run(() => {
    assert.throws(() => store.set('k', 'text'), TypeError);
    store.setText('bad', '{');
    assert.throws(
      () => store.getJson('bad'),
      (error) => error instanceof AuthkitError && error.message.includes('`bad`'),
    );
  });
});

test('store error message names kind', () => {
  const error = new StoreError('value-too-large', 'the value is 2 MiB');
  assert.equal(error.message, 'store value too large: the value is 2 MiB');
  assert.equal(error.kind, 'value-too-large');
});

test('settings list drops empty items', () => {
  const host = new MemoryHost({ settings: { domains: ' a.example, ,b.example ' } });
  host.run(() => {
    assert.deepEqual(settings.getList('domains'), ['a.example', 'b.example']);
    assert.equal(settings.getList('absent'), undefined);
  });
});

test('user events dispatched to typed methods', () => {
  const seen = [];
  class Recorder extends Handler {
    onUserCreated(_event, user) {
      seen.push(['created', user.id]);
    }
    onEvent(event) {
      seen.push(['other', event.eventType]);
    }
  }
  for (const file of ['01-user.created.json', '02-session.created.json', '08-user.deleted.json']) {
    new Recorder().handleEvent(sampleEvent(file));
  }
  assert.deepEqual(seen, [
    ['created', 'user_01JD4M7Q2S8X5K9B3N6P0R1T2V'],
    ['other', 'session.created'],
    ['other', 'user.deleted'],
  ]);
});

test('actions allowed by default', () => {
  const verdict = new Handler().handleAction({
    kind: 'user-registration',
    context: { id: 'a', userData: { email: 'x@example.com' } },
  });
  assert.deepEqual(verdict, allow());
  assert.deepEqual(deny('no'), { tag: 'deny', val: 'no' });
  assert.throws(() => deny(undefined), TypeError);
});

test('plugin info checks action kinds', () => {
  assert.deepEqual(pluginInfo('n', '1', { actions: ['authentication'] }).actions, [
    'authentication',
  ]);
  assert.throws(() => pluginInfo('n', '1', { actions: ['signup'] }), /unknown action kind/);
});

test('email domain after last at sign', () => {
  assert.equal(emailDomain('a@b@example.com'), 'example.com');
  assert.equal(emailDomain('no-at-sign'), null);
});

test('host calls without host explain fix', () => {
  assert.throws(() => store.get('k'), /MemoryHost\.run/);
});
