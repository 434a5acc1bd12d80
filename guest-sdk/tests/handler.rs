//! Dispatch of the default `Handler` methods, driven through the same export
//! adapter the host calls.

mod common;

use std::cell::RefCell;

use authkit_plugin::bindings::exports::authkit::plugin::handler::Guest;
use authkit_plugin::{
    Action, ActionKind, Adapter, AuthenticationContext, Error, Event, Handler, PluginInfo, Result,
    User, UserData, UserRecord, UserRegistrationContext, Verdict,
};
use common::*;

thread_local! {
    static CALLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn record(call: String) {
    CALLS.with(|calls| calls.borrow_mut().push(call));
}

fn take_calls() -> Vec<String> {
    CALLS.with(|calls| calls.take())
}

/// Overrides `on_user_created`, `on_user_deleted` and `on_event`, but not
/// `on_user_updated`, to show the fallback to `on_event`.
struct Recorder;

impl Handler for Recorder {
    fn describe() -> PluginInfo {
        PluginInfo::new("recorder", "1.0.0").with_events(["*"])
    }

    fn on_user_created(_event: &Event, user: User) -> Result<()> {
        record(format!("created {}", user.email));
        Ok(())
    }

    fn on_user_deleted(_event: &Event, user: User) -> Result<()> {
        record(format!("deleted {}", user.id));
        Ok(())
    }

    fn on_event(event: &Event) -> Result<()> {
        if event.data.contains("fail") {
            return Err(Error::new(format_args!("event {} failed", event.id)));
        }
        record(format!("event {}", event.event_type));
        Ok(())
    }
}

/// Implements only `describe`.
struct Minimal;

impl Handler for Minimal {
    fn describe() -> PluginInfo {
        PluginInfo::new("minimal", "0.1.0")
    }
}

struct RegistrationGate;

impl Handler for RegistrationGate {
    fn describe() -> PluginInfo {
        PluginInfo::new("gate", "0.1.0").with_actions([ActionKind::UserRegistration])
    }

    fn on_user_registration(context: UserRegistrationContext) -> Result<Verdict> {
        match context.user_data.email_domain() {
            Some("gmail.com") => Ok(Verdict::deny("no gmail")),
            Some(_) => Ok(Verdict::Allow),
            None => Err(Error::from("email has no domain")),
        }
    }
}

fn registration(fixture: &str) -> Action {
    let body: serde_json::Value = serde_json::from_str(fixture).unwrap();
    let user_data = &body["user_data"];
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    Action::UserRegistration(UserRegistrationContext {
        id: text(&body["id"]).unwrap(),
        user_data: UserData {
            email: text(&user_data["email"]).unwrap(),
            first_name: text(&user_data["first_name"]),
            last_name: text(&user_data["last_name"]),
            name: text(&user_data["name"]),
        },
        invitation_id: None,
        ip_address: text(&body["ip_address"]),
        user_agent: text(&body["user_agent"]),
        device_fingerprint: text(&body["device_fingerprint"]),
        authentication_method: text(&body["authentication_method"]),
        raw: fixture.to_owned(),
    })
}

fn user_record() -> UserRecord {
    let body: serde_json::Value = serde_json::from_str(AUTHENTICATION).unwrap();
    UserRecord {
        id: "user_01JD4M7Q2S8X5K9B3N6P0R1T2V".to_owned(),
        email: "marta.k@example.com".to_owned(),
        email_verified: true,
        first_name: Some("Marta".to_owned()),
        last_name: Some("Kowal".to_owned()),
        name: Some("Marta Kowal".to_owned()),
        profile_picture_url: None,
        last_sign_in_at: None,
        locale: Some("pl-PL".to_owned()),
        external_id: Some("crm-88412".to_owned()),
        metadata: vec![("plan".to_owned(), "team".to_owned())],
        created_at: "2026-11-02T09:14:03.118Z".to_owned(),
        updated_at: "2026-11-02T09:15:40.601Z".to_owned(),
        raw: body["user"].to_string(),
    }
}

fn authentication(raw: &str) -> AuthenticationContext {
    AuthenticationContext {
        id: "01JD4MK7F8G9H0J1K2M3N4P5Q6".to_owned(),
        user: user_record(),
        organization_id: Some("org_01JD4MC5D7E9F1G3H5J7K9M1N3".to_owned()),
        organization_membership_id: Some("om_01JD4MC69X1Y3Z5A7B9C1D3E5F".to_owned()),
        ip_address: Some("198.51.100.23".to_owned()),
        user_agent: None,
        device_fingerprint: Some("fp_5c1e9a".to_owned()),
        issuer: None,
        authentication_method: Some("Password".to_owned()),
        raw: raw.to_owned(),
    }
}

#[test]
fn describe_passes_plugin_info() {
    let info = <Adapter<Recorder> as Guest>::describe();
    assert_eq!(info.name, "recorder");
    assert_eq!(info.version, "1.0.0");
    assert_eq!(info.events, vec!["*".to_owned()]);
    assert!(info.actions.is_empty());
}

#[test]
fn user_events_reach_typed_methods() {
    take_calls();
    for fixture in [USER_CREATED, USER_DELETED] {
        <Adapter<Recorder> as Guest>::handle_event(event_from_json(fixture)).unwrap();
    }
    assert_eq!(
        take_calls(),
        vec![
            "created marta.k@example.com".to_owned(),
            "deleted user_01JD4MF0A9B8C7D6E5F4G3H2J1".to_owned(),
        ]
    );
}

#[test]
fn other_events_reach_on_event() {
    take_calls();
    for fixture in [USER_UPDATED, SESSION_CREATED, DSYNC_USER_CREATED] {
        <Adapter<Recorder> as Guest>::handle_event(event_from_json(fixture)).unwrap();
    }
    assert_eq!(
        take_calls(),
        vec![
            "event user.updated".to_owned(),
            "event session.created".to_owned(),
            "event dsync.user.created".to_owned(),
        ]
    );
}

#[test]
fn handler_error_becomes_message() {
    let event = event("session.created", r#"{"note":"fail"}"#);
    let error = <Adapter<Recorder> as Guest>::handle_event(event).unwrap_err();
    assert_eq!(error, "event event_TEST failed");
}

#[test]
fn malformed_user_data_is_error() {
    let event = event("user.created", r#"{"object":"user","id":"user_1"}"#);
    let error = <Adapter<Recorder> as Guest>::handle_event(event).unwrap_err();
    assert!(error.contains("`user.created`"), "{error}");
    assert!(error.contains("email"), "{error}");
}

#[test]
fn minimal_handler_accepts_everything() {
    for fixture in [
        USER_CREATED,
        USER_UPDATED,
        USER_DELETED,
        ORGANIZATION_CREATED,
    ] {
        let result = <Adapter<Minimal> as Guest>::handle_event(event_from_json(fixture));
        assert_eq!(result, Ok(()));
    }
    let registration = <Adapter<Minimal> as Guest>::handle_action(registration(REGISTRATION_GMAIL));
    assert_eq!(registration, Ok(Verdict::Allow));
    let sign_in = <Adapter<Minimal> as Guest>::handle_action(Action::Authentication(
        authentication(AUTHENTICATION),
    ));
    assert_eq!(sign_in, Ok(Verdict::Allow));
}

#[test]
fn registration_verdicts() {
    let gmail =
        <Adapter<RegistrationGate> as Guest>::handle_action(registration(REGISTRATION_GMAIL));
    assert_eq!(gmail, Ok(Verdict::Deny("no gmail".to_owned())));

    let company =
        <Adapter<RegistrationGate> as Guest>::handle_action(registration(REGISTRATION_COMPANY));
    assert_eq!(company, Ok(Verdict::Allow));
    assert!(company.unwrap().is_allow());
}

#[test]
fn action_error_becomes_message() {
    let mut action = registration(REGISTRATION_COMPANY);
    if let Action::UserRegistration(context) = &mut action {
        context.user_data.email = "no-at-sign".to_owned();
    }
    let error = <Adapter<RegistrationGate> as Guest>::handle_action(action).unwrap_err();
    assert_eq!(error, "email has no domain");
}

#[test]
fn authentication_organization_from_raw() {
    let context = authentication(AUTHENTICATION);
    let organization = context.organization().unwrap().expect("organization");
    assert_eq!(organization.id, "org_01JD4MC5D7E9F1G3H5J7K9M1N3");
    assert_eq!(organization.name, "Kowal Studio");

    let membership = context
        .organization_membership()
        .unwrap()
        .expect("membership");
    assert_eq!(membership.id, "om_01JD4MC69X1Y3Z5A7B9C1D3E5F");
    assert_eq!(
        membership.role.map(|role| role.slug),
        Some("admin".to_owned())
    );
}

#[test]
fn authentication_without_organization() {
    let context = authentication(r#"{"organization":null}"#);
    assert_eq!(context.organization().unwrap(), None);
    assert_eq!(context.organization_membership().unwrap(), None);
}

#[test]
fn authentication_malformed_organization_is_error() {
    let context = authentication(r#"{"organization":{"id":"org_1"}}"#);
    let error = context.organization().unwrap_err().to_string();
    assert!(error.contains("`organization`"), "{error}");
    assert!(error.contains("name"), "{error}");
}

#[test]
fn user_record_helpers() {
    let record = user_record();
    assert_eq!(record.metadata_value("plan"), Some("team"));
    assert_eq!(record.metadata_value("missing"), None);

    let user = record.workos_user().unwrap();
    assert_eq!(user.id, record.id);
    assert_eq!(user.external_id.as_deref(), Some("crm-88412"));
}

#[test]
fn email_domain_takes_last_at() {
    let data = |email: &str| UserData {
        email: email.to_owned(),
        first_name: None,
        last_name: None,
        name: None,
    };
    assert_eq!(data("a@gmail.com").email_domain(), Some("gmail.com"));
    assert_eq!(
        data("\"a@b\"@Example.COM").email_domain(),
        Some("Example.COM")
    );
    assert_eq!(data("nobody").email_domain(), None);
}

#[test]
fn plugin_info_builder_appends() {
    let info = PluginInfo::new("builder", "2.0.0")
        .with_events(["user.created"])
        .with_events(vec!["session.*".to_owned()])
        .with_actions([ActionKind::Authentication, ActionKind::UserRegistration]);
    assert_eq!(
        info.events,
        vec!["user.created".to_owned(), "session.*".to_owned()]
    );
    assert_eq!(
        info.actions,
        vec![ActionKind::Authentication, ActionKind::UserRegistration]
    );
}
