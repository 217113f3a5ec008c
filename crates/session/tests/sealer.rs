//! Minting and opening session tokens: round trip, shapes, rotation and every refusal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podpass_session::{
    Credentials, FederatedIdentity, MAX_MESSAGE_LEN, MESSAGE_PREFIX, OpenError, SealError, Sealer,
    SealingKey, SessionClaims, SessionIdentity, SessionKind, SessionTag,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000;

fn identity() -> SessionIdentity {
    SessionIdentity {
        kind: SessionKind::WebIdentity,
        account: "123456789012".into(),
        role_arn: "arn:aws:iam::123456789012:role/team/app-role".into(),
        role_id: "AROAEXAMPLEROLEID0001".into(),
        role_name: "app-role".into(),
        role_path: "/team/".into(),
        session_name: "botocore-session-1".into(),
        source_identity: Some("alice".into()),
        session_policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
        session_policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        tags: vec![SessionTag {
            key: "team".into(),
            value: "blue".into(),
        }],
        transitive_tag_keys: vec!["team".into()],
        federated: Some(FederatedIdentity {
            provider: "arn:aws:iam::123456789012:oidc-provider/issuer.podpass.test".into(),
            subject: "system:serviceaccount:default:app".into(),
            audience: "sts.amazonaws.com".into(),
        }),
        chained: false,
    }
}

fn sealer() -> Sealer {
    Sealer::new(&SealingKey::generate(1).unwrap(), []).unwrap()
}

fn minted(sealer: &Sealer) -> (Credentials, SessionClaims) {
    sealer.mint(identity(), 3600, NOW).unwrap()
}

#[test]
fn round_trip_returns_the_sealed_session() {
    let sealer = sealer();
    let (credentials, claims) = minted(&sealer);
    assert_eq!(claims.identity, identity());
    assert_eq!((claims.issued_at, claims.expires_at), (NOW, NOW + 3600));
    assert_eq!(credentials.expiration, NOW + 3600);
    assert_eq!(credentials.access_key_id, claims.access_key_id);
    assert_eq!(credentials.secret_access_key, claims.secret_access_key);
    let opened = sealer
        .open(
            &credentials.session_token,
            &credentials.access_key_id,
            NOW + 10,
        )
        .unwrap();
    assert_eq!(opened, claims);
}

#[test]
fn minimal_identity_round_trips() {
    let sealer = sealer();
    let bare = SessionIdentity {
        kind: SessionKind::PodIdentity,
        source_identity: None,
        session_policy: None,
        session_policy_arns: vec![],
        tags: vec![],
        transitive_tag_keys: vec![],
        federated: None,
        chained: true,
        ..identity()
    };
    let (credentials, claims) = sealer.mint(bare.clone(), 900, NOW).unwrap();
    let opened = sealer
        .open(&credentials.session_token, &credentials.access_key_id, NOW)
        .unwrap();
    assert_eq!(opened.identity, bare);
    assert_eq!(opened, claims);
}

#[test]
fn ids_and_secrets_have_the_aws_shape_and_differ_per_mint() {
    let sealer = sealer();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let (credentials, _) = minted(&sealer);
        let id = &credentials.access_key_id;
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("ASIA"));
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{id}"
        );
        let secret = &credentials.secret_access_key;
        assert_eq!(secret.len(), 40);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
            "{secret}"
        );
        assert!(credentials.session_token.starts_with("PPS1"));
        assert!(seen.insert(id.clone()));
        assert!(seen.insert(secret.clone()));
    }
}

#[test]
fn another_access_key_id_is_a_mismatch() {
    let sealer = sealer();
    let (first, _) = minted(&sealer);
    let (second, _) = minted(&sealer);
    assert_eq!(
        sealer.open(&first.session_token, &second.access_key_id, NOW),
        Err(OpenError::KeyIdMismatch)
    );
    assert_eq!(
        sealer.open(&first.session_token, "AKIAIOSFODNN7EXAMPLE", NOW),
        Err(OpenError::KeyIdMismatch)
    );
}

#[test]
fn swapping_the_clear_access_key_id_fails_authentication() {
    let sealer = sealer();
    let (victim, _) = minted(&sealer);
    let (attacker, _) = minted(&sealer);
    let mut body = URL_SAFE_NO_PAD.decode(&victim.session_token[4..]).unwrap();
    body[4..24].copy_from_slice(attacker.access_key_id.as_bytes());
    let relabelled = format!("PPS1{}", URL_SAFE_NO_PAD.encode(body));
    assert_eq!(
        sealer.open(&relabelled, &attacker.access_key_id, NOW),
        Err(OpenError::Forged)
    );
}

#[test]
fn expiry_is_exclusive() {
    let sealer = sealer();
    let (credentials, _) = minted(&sealer);
    let open = |now| sealer.open(&credentials.session_token, &credentials.access_key_id, now);
    assert!(open(NOW + 3599).is_ok());
    assert_eq!(
        open(NOW + 3600),
        Err(OpenError::Expired {
            expired_at: NOW + 3600
        })
    );
}

#[test]
fn rotation_keeps_old_sessions_until_the_old_key_is_dropped() {
    let old = SealingKey::generate(1).unwrap();
    let new = SealingKey::generate(2).unwrap();
    let (credentials, claims) = Sealer::new(&old, [])
        .unwrap()
        .mint(identity(), 3600, NOW)
        .unwrap();
    let open =
        |sealer: &Sealer| sealer.open(&credentials.session_token, &credentials.access_key_id, NOW);

    let rotated = Sealer::new(&new, [&old]).unwrap();
    assert_eq!(rotated.active_key_id(), 2);
    assert_eq!(open(&rotated), Ok(claims));
    let (fresh, _) = rotated.mint(identity(), 3600, NOW).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&fresh.session_token[4..]).unwrap()[..4],
        [0, 0, 0, 2]
    );

    let retired = Sealer::new(&new, []).unwrap();
    assert_eq!(open(&retired), Err(OpenError::UnknownKey(1)));
}

#[test]
fn a_key_with_a_reused_id_cannot_open_tokens_of_the_other() {
    let (credentials, _) = sealer().mint(identity(), 3600, NOW).unwrap();
    let impostor = Sealer::new(&SealingKey::generate(1).unwrap(), []).unwrap();
    assert_eq!(
        impostor.open(&credentials.session_token, &credentials.access_key_id, NOW),
        Err(OpenError::Forged)
    );
}

#[test]
fn key_ring_rejects_conflicting_ids_but_tolerates_repeats() {
    let active = SealingKey::generate(5).unwrap();
    let clash = SealingKey::generate(5).unwrap();
    assert_eq!(
        Sealer::new(&active, [&clash]).err(),
        Some(SealError::DuplicateKeyId(5))
    );
    let sealer = Sealer::new(&active, [&active]).unwrap();
    assert_eq!(
        format!("{sealer:?}"),
        "Sealer { active_key_id: 5, key_ids: [5] }"
    );
}

#[test]
fn stored_keys_keep_opening_tokens() {
    let key = SealingKey::generate(3).unwrap();
    let (credentials, _) = Sealer::new(&key, [])
        .unwrap()
        .mint(identity(), 3600, NOW)
        .unwrap();
    let restored = SealingKey::from_bytes(&key.to_bytes()).unwrap();
    let sealer = Sealer::new(&restored, []).unwrap();
    assert!(
        sealer
            .open(&credentials.session_token, &credentials.access_key_id, NOW)
            .is_ok()
    );
}

#[test]
fn assumed_role_identifiers() {
    let (_, claims) = minted(&sealer());
    assert_eq!(
        claims.assumed_role_arn(),
        "arn:aws:sts::123456789012:assumed-role/app-role/botocore-session-1"
    );
    assert_eq!(
        claims.assumed_role_id(),
        "AROAEXAMPLEROLEID0001:botocore-session-1"
    );
}

#[test]
fn debug_output_hides_secrets() {
    let (credentials, claims) = minted(&sealer());
    for debug in [format!("{credentials:?}"), format!("{claims:?}")] {
        assert!(!debug.contains(&credentials.secret_access_key), "{debug}");
        assert!(!debug.contains(&credentials.session_token), "{debug}");
        assert!(debug.contains("<redacted>"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_tokens_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let sealer = sealer();
        let token = format!("PPS1{}", URL_SAFE_NO_PAD.encode(&bytes));
        let access_key_id = String::from_utf8_lossy(bytes.get(4..24).unwrap_or_default()).into_owned();
        prop_assert!(sealer.open(&token, &access_key_id, NOW).is_err());
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(sealer.open(&raw, &access_key_id, NOW).is_err());
    }

    #[test]
    fn any_bit_flip_in_the_sealed_body_is_refused(index in any::<prop::sample::Index>(), bit in 0u8..8) {
        let sealer = sealer();
        let (credentials, _) = minted(&sealer);
        let mut body = URL_SAFE_NO_PAD.decode(&credentials.session_token[4..]).unwrap();
        let position = index.index(body.len());
        body[position] ^= 1 << bit;
        let flipped = format!("PPS1{}", URL_SAFE_NO_PAD.encode(&body));
        let expected = match position {
            0..4 => OpenError::UnknownKey(u32::from_be_bytes(body[..4].try_into().unwrap())),
            4..24 => OpenError::KeyIdMismatch,
            _ => OpenError::Forged,
        };
        prop_assert_eq!(sealer.open(&flipped, &credentials.access_key_id, NOW), Err(expected));
    }

    #[test]
    fn any_changed_character_is_refused(index in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_=+/-]") {
        let sealer = sealer();
        let (credentials, _) = minted(&sealer);
        let token = &credentials.session_token;
        let position = index.index(token.len());
        let mut mutated = token.clone();
        mutated.replace_range(position..=position, &replacement);
        prop_assume!(&mutated != token);
        let result = sealer.open(&mutated, &credentials.access_key_id, NOW);
        prop_assert!(
            matches!(
                result,
                Err(OpenError::Malformed | OpenError::Forged | OpenError::UnknownKey(_) | OpenError::KeyIdMismatch)
            ),
            "{:?}",
            result
        );
    }
}

#[test]
fn sealer_is_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sealer>();
}

#[test]
fn an_authorization_message_opens_only_whole_and_only_in_its_ring() {
    let key = SealingKey::generate(1).unwrap();
    let sealer = Sealer::new(&key, []).unwrap();
    let context = br#"{"allowed":false,"context":{"action":"iam:ListRoles"}}"#;
    let message = sealer.seal_message(context).unwrap();
    assert!(message.starts_with(MESSAGE_PREFIX), "{message}");
    assert!(!String::from_utf8_lossy(message.as_bytes()).contains("ListRoles"));
    assert_eq!(sealer.open_message(&message).unwrap(), context);

    // Another ring, a flipped byte, a truncation, a session token, an oversized message.
    let impostor = Sealer::new(&SealingKey::generate(1).unwrap(), []).unwrap();
    assert_eq!(impostor.open_message(&message), Err(OpenError::Forged));
    let mut flipped = message.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert!(sealer.open_message(&flipped).is_err());
    assert_eq!(
        sealer.open_message(&message[..20]),
        Err(OpenError::Malformed)
    );
    let (credentials, _) = sealer.mint(identity(), 900, 0).unwrap();
    assert_eq!(
        sealer.open_message(&credentials.session_token),
        Err(OpenError::Malformed)
    );
    let forged_prefix = credentials
        .session_token
        .replacen("PPS1", MESSAGE_PREFIX, 1);
    assert!(sealer.open_message(&forged_prefix).is_err());
    let huge = format!("{MESSAGE_PREFIX}{}", "A".repeat(MAX_MESSAGE_LEN));
    assert_eq!(sealer.open_message(&huge), Err(OpenError::Malformed));
    // A retired key's messages no longer open.
    let rotated = Sealer::new(&SealingKey::generate(2).unwrap(), []).unwrap();
    assert_eq!(
        rotated.open_message(&message),
        Err(OpenError::UnknownKey(1))
    );
}
