//! Example handler: denies registrations with a Gmail address.
//!
//! It decides the `user-registration` action only and subscribes to no
//! events. Addresses at `gmail.com` or `googlemail.com`, in any letter case,
//! are denied with the message "Gmail accounts are not allowed". Every other
//! address is allowed.

use authkit_plugin::{ActionKind, Handler, PluginInfo, Result, UserRegistrationContext, Verdict};

/// The message WorkOS shows to a denied user.
const DENY_MESSAGE: &str = "Gmail accounts are not allowed";

/// The email domains Google serves Gmail under.
const GMAIL_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

/// Returns whether `email` is a Gmail address. A trailing dot on the domain
/// (`gmail.com.`) names the same domain, so it does not evade the check.
fn is_gmail(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    GMAIL_DOMAINS
        .iter()
        .any(|gmail| domain.eq_ignore_ascii_case(gmail))
}

struct DenyGmail;

impl Handler for DenyGmail {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_actions([ActionKind::UserRegistration])
    }

    fn on_user_registration(context: UserRegistrationContext) -> Result<Verdict> {
        if is_gmail(&context.user_data.email) {
            authkit_plugin::info!("denied registration {}: Gmail address", context.id);
            return Ok(Verdict::deny(DENY_MESSAGE));
        }
        Ok(Verdict::Allow)
    }
}

authkit_plugin::export_handler!(DenyGmail);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_addresses_match() {
        for email in [
            "new.person@gmail.com",
            "someone@googlemail.com",
            "Mixed.Case@GMail.COM",
            "someone@GOOGLEMAIL.COM",
            "trailing@gmail.com.",
        ] {
            assert!(is_gmail(email), "{email}");
        }
    }

    #[test]
    fn other_addresses_do_not_match() {
        for email in [
            "anna@kowal.example",
            "someone@notgmail.com",
            "someone@gmail.com.example",
            "gmail.com@example.com",
            "no-at-sign",
            "",
        ] {
            assert!(!is_gmail(email), "{email}");
        }
    }
}
