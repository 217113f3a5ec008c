use std::collections::BTreeMap;

use podpass_store::*;

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open_sqlite_file(&dir.path().join("podpass.db"))
        .await
        .unwrap()
}

fn role(name: &str) -> Role {
    Role {
        role_name: name.into(),
        role_id: format!("AROA{:0>16}", name.len()),
        path: "/app/".into(),
        arn: format!("arn:aws:iam::000000000000:role/app/{name}"),
        trust_policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        description: Some("d".into()),
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: vec![Tag {
            key: "team".into(),
            value: "x".into(),
        }],
        created_at: 1_700_000_000,
    }
}

/// The cluster `demo` with its signing key `k1`.
async fn demo_cluster(store: &Store) -> SigningKeyRecord {
    let cluster = Cluster {
        name: "demo".into(),
        cluster_id: "ABC".into(),
        issuer_url: "http://127.0.0.1:1/id/ABC".into(),
        token_keys: podpass_store::TokenKeys::Podpass,
        token_review: false,
        created_at: 1,
    };
    let key = SigningKeyRecord {
        kid: "k1".into(),
        cluster_name: "demo".into(),
        algorithm: "RS256".into(),
        private_key_pem: "pem".into(),
        created_at: 1,
        retired_at: None,
        publish_until: None,
    };
    store.create_cluster(&cluster, &key).await.unwrap();
    key
}

#[tokio::test]
async fn roles_round_trip_and_names_are_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.create_role(&role("Reader")).await.unwrap();
    assert!(matches!(
        store.create_role(&role("reader")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.role("READER").await.unwrap(), role("Reader"));
    assert_eq!(store.list_roles("/app/").await.unwrap().len(), 1);
    assert!(store.list_roles("/other/").await.unwrap().is_empty());
    assert!(matches!(
        store.role("nope").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn deleting_a_role_with_policies_conflicts_until_they_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.create_role(&role("r")).await.unwrap();
    store
        .put_inline_policy(Holder::Role("r"), "p", "{}")
        .await
        .unwrap();
    store
        .attach_policy(
            Holder::Role("r"),
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        )
        .await
        .unwrap();
    assert!(
        matches!(store.delete_role("r").await, Err(StoreError::Conflict(m)) if m.contains("detach"))
    );
    store
        .detach_policy(
            Holder::Role("r"),
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        )
        .await
        .unwrap();
    assert!(
        matches!(store.delete_role("r").await, Err(StoreError::Conflict(m)) if m.contains("delete policies"))
    );
    store
        .delete_inline_policy(Holder::Role("r"), "p")
        .await
        .unwrap();
    store.delete_role("r").await.unwrap();
    assert!(matches!(
        store.role("r").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn managed_policy_versions_and_attachment_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let arn = "arn:aws:iam::000000000000:policy/p";
    let policy = ManagedPolicy {
        arn: arn.into(),
        policy_id: "ANPA0000000000000001".into(),
        policy_name: "p".into(),
        path: "/".into(),
        description: None,
        default_version_id: "v1".into(),
        tags: vec![],
        created_at: 1,
        updated_at: 1,
        attachment_count: 0,
    };
    store.create_policy(&policy, "{\"v\":1}").await.unwrap();
    assert!(matches!(
        store.create_policy(&policy, "{}").await,
        Err(StoreError::AlreadyExists(_))
    ));
    let v2 = PolicyVersion {
        version_id: "v2".into(),
        document: "{\"v\":2}".into(),
        created_at: 2,
    };
    store.create_policy_version(arn, &v2, true).await.unwrap();
    store.create_role(&role("r")).await.unwrap();
    store.attach_policy(Holder::Role("r"), arn).await.unwrap();
    let read = store.policy(arn).await.unwrap();
    assert_eq!(
        (read.default_version_id.as_str(), read.attachment_count),
        ("v2", 1)
    );
    assert!(matches!(
        store.delete_policy(arn).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir).await;
        store.create_role(&role("r")).await.unwrap();
        let key = demo_cluster(&store).await;
        store.record_signed_until("k1", 100).await.unwrap();
        store.record_signed_until("k1", 50).await.unwrap();
        let k2 = SigningKeyRecord {
            kid: "k2".into(),
            created_at: 2,
            ..key.clone()
        };
        store.rotate_signing_key(&k2, 2).await.unwrap();
        store
            .put_service_account(&ServiceAccount {
                cluster_name: "demo".into(),
                namespace: "default".into(),
                name: "sa".into(),
                uid: "u".into(),
                annotations: BTreeMap::from([("a".into(), "b".into())]),
                created_at: 1,
            })
            .await
            .unwrap();
        store.set_meta("account_id", "000000000000").await.unwrap();
    }
    let store = open(&dir).await;
    assert_eq!(store.role("r").await.unwrap().role_name, "r");
    let keys = store.signing_keys("demo").await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.kid.as_str(), k.retired_at, k.publish_until))
            .collect::<Vec<_>>(),
        vec![("k2", None, None), ("k1", Some(2), Some(100))]
    );
    // A later rotation past k1's last token drops it; k2 has signed nothing and goes too.
    let k3 = SigningKeyRecord {
        kid: "k3".into(),
        created_at: 200,
        ..keys[0].clone()
    };
    store.rotate_signing_key(&k3, 200).await.unwrap();
    let kids: Vec<_> = store
        .signing_keys("demo")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, vec!["k3"]);
    let sa = store
        .service_account("demo", "default", "sa")
        .await
        .unwrap();
    assert_eq!(sa.annotations["a"], "b");
    assert_eq!(
        store.meta("account_id").await.unwrap().as_deref(),
        Some("000000000000")
    );
}

#[tokio::test]
async fn a_fresh_sqlite_store_runs_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podpass.db");
    let store = Store::open_sqlite_file(&path).await.unwrap();
    assert_eq!(
        store.sqlite_durability().await.unwrap(),
        Some(("wal".to_owned(), 2))
    );
    // WAL mode is a property of the file: a connection that asks for nothing finds it.
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rw", path.display());
    let mut other = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
}

#[tokio::test]
async fn secrets_and_config_maps_keep_their_bytes_and_are_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    demo_cluster(&store).await;
    let secret = ClusterObject {
        cluster_name: "demo".into(),
        namespace: "podpass".into(),
        kind: ObjectKind::Secret,
        name: "tls".into(),
        data: BTreeMap::from([
            ("tls.key".into(), vec![0, 159, 146, 150, 255]),
            ("tls.crt".into(), b"-----BEGIN".to_vec()),
        ]),
        created_at: 5,
    };
    assert!(store.put_object(&secret).await.unwrap(), "created");
    let read = |kind| store.object("demo", "podpass", kind, "tls");
    assert_eq!(
        read(ObjectKind::Secret).await.unwrap(),
        Some(secret.clone())
    );
    // A ConfigMap of the same name is another object.
    assert_eq!(read(ObjectKind::ConfigMap).await.unwrap(), None);
    let replaced = ClusterObject {
        data: BTreeMap::from([("tls.crt".into(), b"new".to_vec())]),
        created_at: 9,
        ..secret.clone()
    };
    assert!(!store.put_object(&replaced).await.unwrap(), "updated");
    assert_eq!(
        read(ObjectKind::Secret).await.unwrap(),
        Some(ClusterObject {
            created_at: 5,
            ..replaced
        })
    );
}
