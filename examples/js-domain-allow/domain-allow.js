// Example handler in JavaScript: only email domains on an allow list may
// register or sign in.
//
// The plugin setting `allowed_domains` lists the domains, comma-separated,
// for example `allowed_domains = "kowal.example, example.com"` in
// `js-domain-allow.toml`. A domain matches exactly, in any letter case and
// with or without a trailing dot; subdomains do not match. Without the
// setting every action is denied, so a missing configuration fails closed.
//
// Each allowed authentication increments `signins/<user_id>`
// (`{"count": n}`). The host commits an action's store writes only when the
// action completes, so a sign-in that WorkOS abandons is not counted. A
// `user.deleted` event removes the user's count; deleting is idempotent, so
// a redelivered event changes nothing.
//
// NOTE: a sign-in decided after the user's deletion was delivered (the
// event and the action race) creates the count again.
//
// This module contains the logic and runs under Node.js for the unit tests;
// `app.js` exports it from the component.

import {
  ActionKind,
  Handler,
  allow,
  deny,
  emailDomain,
  log,
  pluginInfo,
  settings,
  store,
} from '../../guest-sdk/js/src/index.js';

export const NAME = 'js-domain-allow';
export const VERSION = '0.1.0';
export const SETTING = 'allowed_domains';

/** The message WorkOS shows when the setting is missing or empty. */
export const NOT_CONFIGURED_MESSAGE =
  'Sign-up and sign-in are unavailable: no email domains are allowed yet. Contact the administrator.';

/** Lowercases a domain and drops one trailing dot, so equal names compare equal. */
export function normalizeDomain(domain) {
  const lower = domain.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Returns the allowed domains, normalized, or `undefined` when none are set. */
export function allowedDomains() {
  const domains = settings.getList(SETTING);
  if (domains === undefined || domains.length === 0) {
    return undefined;
  }
  return new Set(domains.map((domain) => normalizeDomain(domain.replace(/^@/, ''))));
}

/**
 * Decides whether `email` may `purpose` ("sign up" or "sign in"), and
 * returns the verdict.
 */
export function decide(email, purpose) {
  const allowed = allowedDomains();
  if (allowed === undefined) {
    log.warn(
      `setting \`${SETTING}\` is missing or empty, so every ${purpose} is denied; ` +
        `set it in the [settings] table of ${NAME}.toml`,
    );
    return deny(NOT_CONFIGURED_MESSAGE);
  }
  const domain = emailDomain(email);
  if (domain === null || domain === '') {
    return deny(`\`${email}\` is not an email address, so it cannot ${purpose}.`);
  }
  if (!allowed.has(normalizeDomain(domain))) {
    return deny(`Email addresses at ${domain} are not allowed to ${purpose} here.`);
  }
  return allow();
}

export function signinsKey(userId) {
  return `signins/${userId}`;
}

export class DomainAllow extends Handler {
  describe() {
    return pluginInfo(NAME, VERSION, {
      events: ['user.deleted'],
      actions: [ActionKind.AUTHENTICATION, ActionKind.USER_REGISTRATION],
    });
  }

  onUserDeleted(event, user) {
    store.delete(signinsKey(user.id));
    log.debug(`removed the sign-in count of user ${user.id} (event ${event.id})`);
  }

  onUserRegistration(context) {
    const verdict = decide(context.userData.email, 'sign up');
    if (verdict.tag === 'deny') {
      log.info(`denied registration ${context.id}: ${verdict.val}`);
    }
    return verdict;
  }

  onAuthentication(context) {
    const verdict = decide(context.user.email, 'sign in');
    if (verdict.tag === 'deny') {
      log.info(`denied sign-in ${context.id} of user ${context.user.id}: ${verdict.val}`);
      return verdict;
    }
    const key = signinsKey(context.user.id);
    const signins = store.getJson(key, { count: 0 });
    signins.count += 1;
    store.setJson(key, signins);
    return verdict;
  }
}
