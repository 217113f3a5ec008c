//! Session credentials: minting (random key id and secret, then sealing the session with
//! AES-256-GCM) and opening a session token, as STS and every signed request do.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use podpass_session::{
    FederatedIdentity, Sealer, SealingKey, SessionIdentity, SessionKind, SessionTag,
};

const NOW: i64 = 1_795_867_200;
const DURATION_SECONDS: u32 = 3600;

/// The session of an IRSA pod: AssumeRoleWithWebIdentity with two session tags.
fn web_identity_session() -> SessionIdentity {
    SessionIdentity {
        kind: SessionKind::WebIdentity,
        account: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/payments-app".into(),
        role_id: "AROAEXAMPLEPAYMENTS01".into(),
        role_name: "payments-app".into(),
        role_path: "/".into(),
        session_name: "botocore-session-1795867200".into(),
        source_identity: None,
        session_policy: None,
        session_policy_arns: Vec::new(),
        tags: vec![
            SessionTag {
                key: "kubernetes-namespace".into(),
                value: "payments-ns".into(),
            },
            SessionTag {
                key: "team".into(),
                value: "payments".into(),
            },
        ],
        transitive_tag_keys: Vec::new(),
        federated: Some(FederatedIdentity {
            provider:
                "arn:aws:iam::111122223333:oidc-provider/oidc.podpass.local/id/0123456789ABCDEF"
                    .into(),
            subject: "system:serviceaccount:payments-ns:reader".into(),
            audience: "sts.amazonaws.com".into(),
        }),
        chained: false,
    }
}

fn session(c: &mut Criterion) {
    let sealer = Sealer::new(&SealingKey::generate(1).expect("sealing key"), []).expect("sealer");
    let identity = web_identity_session();
    let (credentials, claims) = sealer
        .mint(identity.clone(), DURATION_SECONDS, NOW)
        .expect("mint");
    let opened = sealer
        .open(&credentials.session_token, &credentials.access_key_id, NOW)
        .expect("open");
    assert_eq!(opened, claims);
    assert!(
        sealer
            .open(&credentials.session_token, "ASIAOTHERKEYID000000", NOW)
            .is_err()
    );

    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("mint", |b| {
        b.iter(|| sealer.mint(black_box(identity.clone()), DURATION_SECONDS, NOW))
    });
    group.bench_function("open", |b| {
        b.iter(|| {
            sealer.open(
                black_box(&credentials.session_token),
                &credentials.access_key_id,
                NOW,
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = podpass_bench::criterion();
    targets = session
}
criterion_main!(benches);
