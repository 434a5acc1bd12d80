//! Payload parsing against WorkOS event bodies.

mod common;

use authkit_plugin::Payload;
use common::*;
use serde_json::json;

fn payload_of(fixture: &str) -> Payload {
    let event = event_from_json(fixture);
    event
        .payload()
        .unwrap_or_else(|error| panic!("{}: {error}", event.event_type))
}

#[test]
fn fixtures_parse_into_expected_variant() {
    let cases: [(&str, &str); 9] = [
        (USER_CREATED, "User"),
        (SESSION_CREATED, "Session"),
        (USER_UPDATED, "User"),
        (ORGANIZATION_CREATED, "Organization"),
        (MEMBERSHIP_CREATED, "OrganizationMembership"),
        (GMAIL_USER_CREATED, "User"),
        (SESSION_REVOKED, "Session"),
        (USER_DELETED, "User"),
        (DSYNC_USER_CREATED, "DirectoryUser"),
    ];
    for (fixture, expected) in cases {
        let event = event_from_json(fixture);
        let variant = match payload_of(fixture) {
            Payload::User(_) => "User",
            Payload::Session(_) => "Session",
            Payload::Organization(_) => "Organization",
            Payload::OrganizationMembership(_) => "OrganizationMembership",
            Payload::DirectoryUser(_) => "DirectoryUser",
            Payload::Other(_) => "Other",
        };
        assert_eq!(variant, expected, "event type {}", event.event_type);
    }
}

#[test]
fn user_created_fields() {
    let Payload::User(user) = payload_of(USER_CREATED) else {
        panic!("expected a user");
    };
    assert_eq!(user.id, "user_01JD4M7Q2S8X5K9B3N6P0R1T2V");
    assert_eq!(user.email, "marta.k@example.com");
    assert_eq!(user.email_verified, Some(true));
    assert_eq!(user.first_name.as_deref(), Some("Marta"));
    assert_eq!(user.last_name.as_deref(), Some("Kowal"));
    assert_eq!(user.name.as_deref(), Some("Marta Kowal"));
    assert_eq!(
        user.profile_picture_url.as_deref(),
        Some("https://images.example.com/u/marta.png")
    );
    assert_eq!(user.last_sign_in_at, None);
    assert_eq!(user.locale.as_deref(), Some("pl-PL"));
    assert_eq!(user.external_id, None);
    assert_eq!(user.metadata.get("plan").map(String::as_str), Some("team"));
    assert_eq!(user.created_at.as_deref(), Some("2026-11-02T09:14:03.118Z"));
    assert_eq!(user.updated_at.as_deref(), Some("2026-11-02T09:14:03.118Z"));
    assert_eq!(user.extra.get("object"), Some(&json!("user")));
}

#[test]
fn user_created_with_null_names() {
    let Payload::User(user) = payload_of(GMAIL_USER_CREATED) else {
        panic!("expected a user");
    };
    assert_eq!(user.email, "dev.tester@gmail.com");
    assert_eq!(user.email_verified, Some(false));
    assert_eq!(user.name, None);
    assert_eq!(user.locale, None);
    assert!(user.metadata.is_empty());
}

#[test]
fn user_updated_fields() {
    let Payload::User(user) = payload_of(USER_UPDATED) else {
        panic!("expected a user");
    };
    assert_eq!(user.external_id.as_deref(), Some("crm-88412"));
    assert_eq!(
        user.last_sign_in_at.as_deref(),
        Some("2026-11-02T09:15:40.552Z")
    );
    assert_eq!(user.updated_at.as_deref(), Some("2026-11-02T09:15:40.601Z"));
}

#[test]
fn user_deleted_trimmed_object() {
    let Payload::User(user) = payload_of(USER_DELETED) else {
        panic!("expected a user");
    };
    assert_eq!(user.id, "user_01JD4MF0A9B8C7D6E5F4G3H2J1");
    assert_eq!(user.email, "dev.tester@gmail.com");
    assert_eq!(user.email_verified, None);
    assert_eq!(user.first_name, None);
    assert_eq!(user.created_at, None);
    assert_eq!(user.updated_at, None);
    assert!(user.metadata.is_empty());
}

#[test]
fn session_created_fields() {
    let Payload::Session(session) = payload_of(SESSION_CREATED) else {
        panic!("expected a session");
    };
    assert_eq!(session.id, "session_01JD4MA3A1B2C3D4E5F6G7H8J9");
    assert_eq!(session.user_id, "user_01JD4M7Q2S8X5K9B3N6P0R1T2V");
    assert_eq!(session.organization_id, None);
    assert_eq!(session.status.as_deref(), Some("active"));
    assert_eq!(session.auth_method.as_deref(), Some("password"));
    assert_eq!(session.ip_address.as_deref(), Some("198.51.100.23"));
    assert_eq!(session.impersonator, None);
    assert_eq!(
        session.expires_at.as_deref(),
        Some("2026-11-09T09:15:40.500Z")
    );
}

#[test]
fn session_revoked_status() {
    let Payload::Session(session) = payload_of(SESSION_REVOKED) else {
        panic!("expected a session");
    };
    assert_eq!(session.status.as_deref(), Some("revoked"));
}

#[test]
fn session_with_impersonator() {
    let data = r#"{"object":"session","id":"session_1","user_id":"user_1",
        "impersonator":{"email":"admin@example.com","reason":"support ticket"}}"#;
    let Payload::Session(session) = Payload::parse("session.created", data).unwrap() else {
        panic!("expected a session");
    };
    let impersonator = session.impersonator.expect("impersonator");
    assert_eq!(impersonator.email, "admin@example.com");
    assert_eq!(impersonator.reason.as_deref(), Some("support ticket"));
}

#[test]
fn organization_created_fields() {
    let Payload::Organization(organization) = payload_of(ORGANIZATION_CREATED) else {
        panic!("expected an organization");
    };
    assert_eq!(organization.id, "org_01JD4MC5D7E9F1G3H5J7K9M1N3");
    assert_eq!(organization.name, "Kowal Studio");
    assert_eq!(
        organization.allow_profiles_outside_organization,
        Some(false)
    );
    assert!(organization.metadata.is_empty());
    assert_eq!(organization.domains.len(), 1);
    let domain = &organization.domains[0];
    assert_eq!(domain.domain, "kowal.example");
    assert_eq!(domain.state.as_deref(), Some("verified"));
    assert_eq!(domain.verification_strategy.as_deref(), Some("dns"));
    assert_eq!(
        domain.organization_id.as_deref(),
        Some("org_01JD4MC5D7E9F1G3H5J7K9M1N3")
    );
}

#[test]
fn membership_created_fields() {
    let Payload::OrganizationMembership(membership) = payload_of(MEMBERSHIP_CREATED) else {
        panic!("expected a membership");
    };
    assert_eq!(membership.id, "om_01JD4MC69X1Y3Z5A7B9C1D3E5F");
    assert_eq!(membership.user_id, "user_01JD4M7Q2S8X5K9B3N6P0R1T2V");
    assert_eq!(membership.organization_id, "org_01JD4MC5D7E9F1G3H5J7K9M1N3");
    assert_eq!(
        membership.organization_name.as_deref(),
        Some("Kowal Studio")
    );
    assert_eq!(
        membership.role.as_ref().map(|role| role.slug.as_str()),
        Some("admin")
    );
    assert_eq!(membership.roles.len(), 1);
    assert_eq!(membership.roles[0].slug, "admin");
    assert_eq!(membership.status.as_deref(), Some("active"));
}

#[test]
fn directory_user_created_fields() {
    let Payload::DirectoryUser(user) = payload_of(DSYNC_USER_CREATED) else {
        panic!("expected a directory user");
    };
    assert_eq!(user.id, "directory_user_01JD4MJ5A1B2C3D4E5F6G7H8J9");
    assert_eq!(user.directory_id, "directory_01JD4MJ0Z9Y8X7W6V5T4S3R2Q1");
    assert_eq!(
        user.organization_id.as_deref(),
        Some("org_01JD4MC5D7E9F1G3H5J7K9M1N3")
    );
    assert_eq!(user.idp_id.as_deref(), Some("00u9x8y7z6"));
    assert_eq!(user.email.as_deref(), Some("ops@kowal.example"));
    assert_eq!(user.state.as_deref(), Some("active"));
    assert_eq!(
        user.custom_attributes.get("department"),
        Some(&json!("Operations"))
    );
    assert_eq!(user.raw_attributes.get("title"), Some(&json!("Ops lead")));
    assert_eq!(
        user.role.as_ref().map(|role| role.slug.as_str()),
        Some("member")
    );
}

#[test]
fn unknown_event_type_is_raw_json() {
    let data = r#"{"object":"email_verification","id":"email_verification_1"}"#;
    let payload = Payload::parse("authentication.email_verification_succeeded", data).unwrap();
    assert_eq!(
        payload,
        Payload::Other(json!({"object": "email_verification", "id": "email_verification_1"}))
    );
}

#[test]
fn organization_domain_event_is_not_organization() {
    let data = r#"{"object":"organization_domain","id":"org_domain_1","domain":"a.example"}"#;
    let payload = Payload::parse("organization_domain.verified", data).unwrap();
    assert!(matches!(payload, Payload::Other(_)), "{payload:?}");
}

#[test]
fn dsync_group_event_is_raw_json() {
    let data = r#"{"object":"directory_group","id":"directory_group_1"}"#;
    let payload = Payload::parse("dsync.group.created", data).unwrap();
    assert!(matches!(payload, Payload::Other(_)), "{payload:?}");
}

#[test]
fn unknown_fields_survive_round_trip() {
    let data = r#"{"object":"user","id":"user_1","email":"a@example.com",
        "future_field":{"nested":[1,2]}}"#;
    let Payload::User(user) = Payload::parse("user.updated", data).unwrap() else {
        panic!("expected a user");
    };
    assert_eq!(
        user.extra.get("future_field"),
        Some(&json!({"nested": [1, 2]}))
    );

    let written = serde_json::to_value(&user).unwrap();
    assert_eq!(written["future_field"], json!({"nested": [1, 2]}));
    assert_eq!(written["object"], json!("user"));
    assert_eq!(written["email"], json!("a@example.com"));
}

#[test]
fn missing_email_error_names_event_and_field() {
    let data = r#"{"object":"user","id":"user_1"}"#;
    let error = Payload::parse("user.created", data).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`user.created`"), "{message}");
    assert!(message.contains("User"), "{message}");
    assert!(message.contains("email"), "{message}");
}

#[test]
fn malformed_json_is_error() {
    let error = Payload::parse("session.created", "{not json").unwrap_err();
    assert!(error.to_string().contains("`session.created`"), "{error}");
    assert!(error.json_error().is_syntax());
}

#[test]
fn event_context_json() {
    let event = event_from_json(USER_CREATED);
    let context = event.context_json().unwrap().expect("context");
    assert_eq!(
        context["client_id"],
        json!("client_01JD4KX0Y2Z3A4B5C6D7E8F9G0")
    );

    let without = event_from_json(SESSION_CREATED);
    assert_eq!(without.context_json().unwrap(), None);
}

#[test]
fn event_data_as_custom_type() {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    let event = event_from_json(DSYNC_USER_CREATED);
    let parsed: IdOnly = event.data_as().unwrap();
    assert_eq!(parsed.id, "directory_user_01JD4MJ5A1B2C3D4E5F6G7H8J9");
}
