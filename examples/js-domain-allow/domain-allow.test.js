// Unit tests of the domain policy against the SDK's in-memory host:
// `node --test examples/js-domain-allow/`. The host end-to-end tests are in
// tests/integration/polyglot.rs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { ActionKind, Event } from '../../guest-sdk/js/src/index.js';
import { MemoryHost } from '../../guest-sdk/js/src/testing.js';
import { DomainAllow, NOT_CONFIGURED_MESSAGE, normalizeDomain } from './domain-allow.js';

function sampleAction(file) {
  return JSON.parse(readFileSync(new URL(`../actions/${file}`, import.meta.url), 'utf8'));
}

// The action as the component adapter passes it: the WIT context record,
// with the fields these tests need.
function registration(email) {
  return { kind: ActionKind.USER_REGISTRATION, context: { id: 'action_1', userData: { email } } };
}

function authentication() {
  const body = sampleAction('authentication.json');
  return {
    kind: ActionKind.AUTHENTICATION,
    context: { id: body.id, user: { id: body.user.id, email: body.user.email } },
  };
}

test('listed domain registers', () => {
  const email = sampleAction('user_registration-company.json').user_data.email;
  const host = new MemoryHost({ settings: { allowed_domains: 'example.com, Kowal.Example' } });
  const verdict = host.run(() => new DomainAllow().handleAction(registration(email)));
  assert.deepEqual(verdict, { tag: 'allow' });
});

test('unlisted domain denied by name', () => {
  const email = sampleAction('user_registration-gmail.json').user_data.email;
  const host = new MemoryHost({ settings: { allowed_domains: 'kowal.example' } });
  const verdict = host.run(() => new DomainAllow().handleAction(registration(email)));
  assert.equal(verdict.tag, 'deny');
  assert.match(verdict.val, /gmail\.com/);
});

test('missing setting denies everything', () => {
  for (const settings of [{}, { allowed_domains: ' , ' }]) {
    const host = new MemoryHost({ settings });
    const verdict = host.run(() => new DomainAllow().handleAction(authentication()));
    assert.deepEqual(verdict, { tag: 'deny', val: NOT_CONFIGURED_MESSAGE });
    assert.equal(host.store.size, 0);
    assert.equal(host.logs[0][0], 'warn');
  }
});

test('address without domain denied', () => {
  const host = new MemoryHost({ settings: { allowed_domains: 'kowal.example' } });
  for (const email of ['no-at-sign', 'trailing@']) {
    const verdict = host.run(() => new DomainAllow().handleAction(registration(email)));
    assert.equal(verdict.tag, 'deny', email);
  }
});

test('subdomain does not match', () => {
  const host = new MemoryHost({ settings: { allowed_domains: 'kowal.example' } });
  const verdict = host.run(() => new DomainAllow().handleAction(registration('a@eu.kowal.example')));
  assert.equal(verdict.tag, 'deny');
});

test('allowed sign-ins counted', () => {
  const action = authentication();
  const host = new MemoryHost({ settings: { allowed_domains: 'example.com' } });
  host.run(() => new DomainAllow().handleAction(action));
  host.run(() => new DomainAllow().handleAction(action));
  assert.deepEqual(host.storeJson(`signins/${action.context.user.id}`), { count: 2 });
});

test('denied sign-in not counted', () => {
  const host = new MemoryHost({ settings: { allowed_domains: 'kowal.example' } });
  const verdict = host.run(() => new DomainAllow().handleAction(authentication()));
  assert.equal(verdict.tag, 'deny');
  assert.match(verdict.val, /example\.com/);
  assert.equal(host.store.size, 0);
});

test('user deletion removes count', () => {
  const action = authentication();
  const key = `signins/${action.context.user.id}`;
  const deleted = new Event({
    id: 'event_1',
    eventType: 'user.deleted',
    createdAt: '2026-11-02T12:00:00.000Z',
    data: JSON.stringify({ object: 'user', id: action.context.user.id, email: 'a@example.com' }),
  });
  const host = new MemoryHost({ settings: { allowed_domains: 'example.com' } });
  host.run(() => new DomainAllow().handleAction(action));
  assert.deepEqual(host.storeJson(key), { count: 1 });
  host.run(() => new DomainAllow().handleEvent(deleted));
  assert.equal(host.store.has(key), false);
  host.run(() => new DomainAllow().handleEvent(deleted));
  assert.equal(host.store.size, 0);
});

test('domain normalized', () => {
  assert.equal(normalizeDomain(' Example.COM. '), 'example.com');
});
