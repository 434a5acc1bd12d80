//! The description a handler returns from `describe`, and its validation.

use std::fmt;

/// The maximum length of a handler name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// The maximum length of a handler version, in bytes. The version is
/// logged and listed with every load, so it stays short.
pub const MAX_VERSION_BYTES: usize = 64;

/// The maximum number of event patterns one handler may subscribe to.
pub const MAX_EVENT_PATTERNS: usize = 256;

/// The maximum length of one event pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;

/// The kinds of AuthKit Actions a handler can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// A user is signing in.
    Authentication,
    /// A new user is signing up.
    UserRegistration,
}

impl ActionKind {
    /// Returns the WIT name of the kind, as used in logs and config.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Authentication => "authentication",
            ActionKind::UserRegistration => "user-registration",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A loaded handler's description, checked by [`PluginInfo::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The stable name that keys the handler's store and settings.
    pub name: String,
    /// The handler's version, as it reports it.
    pub version: String,
    /// Event type patterns: exact names (`user.created`), prefix patterns
    /// (`user.*`) or `*` for every event.
    pub events: Vec<String>,
    /// The action kinds the handler decides, without repeats.
    pub actions: Vec<ActionKind>,
}

impl PluginInfo {
    /// Returns whether an event of this type goes to the handler.
    ///
    /// `*` matches every type, and `prefix.*` matches every type that starts
    /// with `prefix.`, however many segments follow: `dsync.*` matches
    /// `dsync.user.created`.
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.events
            .iter()
            .any(|pattern| pattern_matches(pattern, event_type))
    }

    /// Returns whether the handler decides actions of this kind.
    pub fn handles(&self, kind: ActionKind) -> bool {
        self.actions.contains(&kind)
    }

    /// Checks the description and returns what is wrong with it.
    ///
    /// The name must be 1 to [`MAX_NAME_BYTES`] ASCII letters, digits, `-`,
    /// `_` or `.`, because it becomes a settings section and a store
    /// namespace. The version must be 1 to [`MAX_VERSION_BYTES`] bytes
    /// without control characters, because it is written to logs and
    /// terminals as it is.
    ///
    /// There may be at most [`MAX_EVENT_PATTERNS`] event patterns of at most
    /// [`MAX_PATTERN_BYTES`] bytes each. Every pattern must be `*`, an event
    /// type, or an event type followed by `.*`. An event type is one or more
    /// dot-separated segments of ASCII letters, digits, `_` and `-`.
    pub fn validate(&self) -> Result<(), String> {
        validate_name(&self.name)?;
        validate_version(&self.version).map_err(|reason| {
            format!(
                "handler {:?} {reason}; return a version such as \"0.1.0\"",
                self.name
            )
        })?;

        if self.events.len() > MAX_EVENT_PATTERNS {
            return Err(format!(
                "handler {:?} subscribes to {} event patterns; the maximum is \
                 {MAX_EVENT_PATTERNS}, so use prefix patterns such as \"user.*\" instead",
                self.name,
                self.events.len()
            ));
        }
        for pattern in &self.events {
            validate_pattern(pattern).map_err(|reason| {
                format!(
                    "handler {:?} subscribes to the invalid event pattern {:?}: {reason}; \
                     use an event type such as \"user.created\", a prefix pattern such as \
                     \"user.*\", or \"*\"",
                    self.name,
                    preview(pattern)
                )
            })?;
        }
        Ok(())
    }
}

/// Checks a handler name, as described on [`PluginInfo::validate`].
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "the handler name is empty; return a stable name such as \"todo-lists\"".into(),
        );
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the handler name {:?} is {} bytes long; the maximum is {MAX_NAME_BYTES}",
            preview(name),
            name.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "the handler name {name:?} contains {bad:?}; use only ASCII letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// Returns the start of a text a guest returned, for an error message that
/// must stay short however long the text is.
fn preview(text: &str) -> String {
    const PREVIEW_CHARS: usize = 64;

    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Checks a handler version, as described on [`PluginInfo::validate`].
///
/// The reason it returns follows the handler name in a sentence.
fn validate_version(version: &str) -> Result<(), String> {
    if version.trim().is_empty() {
        return Err("has an empty version".into());
    }
    if version.len() > MAX_VERSION_BYTES {
        return Err(format!(
            "has a version of {} bytes; the maximum is {MAX_VERSION_BYTES}",
            version.len()
        ));
    }
    if let Some(bad) = version.chars().find(|c| c.is_control()) {
        return Err(format!(
            "has a version that contains the control character {bad:?}"
        ));
    }
    Ok(())
}

/// Checks one event pattern, as described on [`PluginInfo::validate`].
fn validate_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    if pattern.is_empty() {
        return Err("the pattern is empty".into());
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "it is {} bytes long; the maximum is {MAX_PATTERN_BYTES}",
            pattern.len()
        ));
    }
    let event_type = pattern.strip_suffix(".*").unwrap_or(pattern);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    for segment in event_type.split('.') {
        if segment.is_empty() {
            return Err("a dot-separated segment is empty".into());
        }
        if let Some(bad) = segment.chars().find(|&c| !allowed(c)) {
            let hint = if bad == '*' {
                "; '*' may only stand alone or as the whole last segment"
            } else {
                ""
            };
            return Err(format!("it contains {bad:?}{hint}"));
        }
    }
    Ok(())
}

/// Matches one validated pattern against an event type.
fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        // `prefix` keeps its trailing dot, so `user.*` does not match `users.x`.
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(events: &[&str]) -> PluginInfo {
        PluginInfo {
            name: "test".into(),
            version: "0.1.0".into(),
            events: events.iter().map(|event| (*event).to_owned()).collect(),
            actions: vec![ActionKind::UserRegistration],
        }
    }

    #[test]
    fn exact_pattern_matches_only_itself() {
        let info = info(&["user.created"]);
        assert!(info.subscribes_to("user.created"));
        assert!(!info.subscribes_to("user.created.extra"));
        assert!(!info.subscribes_to("user.updated"));
    }

    #[test]
    fn prefix_pattern_matches_below_prefix() {
        let info = info(&["dsync.*"]);
        assert!(info.subscribes_to("dsync.user.created"));
        assert!(info.subscribes_to("dsync.activated"));
        assert!(!info.subscribes_to("dsync"));
        assert!(!info.subscribes_to("dsyncs.activated"));
        assert!(!info.subscribes_to("user.created"));
    }

    #[test]
    fn star_matches_everything() {
        let info = info(&["*"]);
        assert!(info.subscribes_to("user.created"));
        assert!(info.subscribes_to("anything"));
    }

    #[test]
    fn no_patterns_match_nothing() {
        assert!(!info(&[]).subscribes_to("user.created"));
    }

    #[test]
    fn handles_listed_actions() {
        let info = info(&[]);
        assert!(info.handles(ActionKind::UserRegistration));
        assert!(!info.handles(ActionKind::Authentication));
    }

    #[test]
    fn valid_patterns_accepted() {
        let patterns = [
            "*",
            "user.created",
            "user.*",
            "organization_membership.created",
            "dsync.user.*",
        ];
        for pattern in patterns {
            assert_eq!(validate_pattern(pattern), Ok(()), "{pattern}");
        }
    }

    #[test]
    fn invalid_patterns_rejected() {
        let patterns = [
            ("", "empty"),
            ("user.*x", "'*'"),
            ("user*", "'*'"),
            ("*.created", "'*'"),
            ("user.", "empty"),
            (".user", "empty"),
            ("user..created", "empty"),
            ("user created", "' '"),
            ("**", "'*'"),
        ];
        for (pattern, needle) in patterns {
            let error = validate_pattern(pattern).unwrap_err();
            assert!(error.contains(needle), "{pattern:?}: {error}");
        }
    }

    #[test]
    fn invalid_info_names_pattern() {
        let error = info(&["user.created", "user.*x"]).validate().unwrap_err();
        assert!(error.contains("\"user.*x\""), "{error}");
        assert!(error.contains("\"test\""), "{error}");
    }

    #[test]
    fn names_checked() {
        assert!(validate_name("todo-lists").is_ok());
        assert!(validate_name("a.b_c-1").is_ok());
        assert!(validate_name("").unwrap_err().contains("empty"));
        assert!(validate_name("has space").unwrap_err().contains("' '"));
        assert!(validate_name("store/escape").unwrap_err().contains("'/'"));
        assert!(validate_name(&"n".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn empty_version_rejected() {
        let mut info = info(&[]);
        info.version = " ".into();
        assert!(info.validate().unwrap_err().contains("empty version"));
    }

    #[test]
    fn forged_or_long_versions_rejected() {
        let mut info = info(&[]);

        info.version = "1.0\n2026-12-04T21:00:00Z  INFO forged".into();
        let error = info.validate().unwrap_err();
        assert!(error.contains("control character '\\n'"), "{error}");

        info.version = "1.0\u{1b}[31m".into();
        assert!(info.validate().unwrap_err().contains("control character"));

        info.version = "v".repeat(MAX_VERSION_BYTES + 1);
        let error = info.validate().unwrap_err();
        assert!(error.contains("65 bytes; the maximum is 64"), "{error}");

        info.version = "v".repeat(MAX_VERSION_BYTES);
        assert!(info.validate().is_ok());
    }

    #[test]
    fn too_many_or_long_patterns_rejected() {
        let many: Vec<String> = (0..=MAX_EVENT_PATTERNS)
            .map(|n| format!("custom.event{n}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let error = info(&many).validate().unwrap_err();
        assert!(error.contains("257 event patterns"), "{error}");
        assert!(info(&many[..MAX_EVENT_PATTERNS]).validate().is_ok());

        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        let error = info(&[&long]).validate().unwrap_err();
        assert!(error.contains("257 bytes long"), "{error}");
        assert!(error.len() < 400, "{error}");
    }
}
