//! The fast path must not allocate: a counting allocator watches `evaluate` for a typical role
//! (AmazonS3ReadOnlyAccess plus an inline policy with a condition and a policy variable).

// The workspace denies `unsafe`; a global allocator can only be an `unsafe impl GlobalAlloc`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use podpass_policy::{
    Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request,
    RoleSession, catalogue, evaluate,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce() -> Decision) -> (Decision, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let decision = f();
    (decision, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn typical_role_evaluates_without_allocating() {
    let inline = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::data/${aws:PrincipalTag/kubernetes-namespace}/*",
         "Condition":{"StringEquals":{"aws:PrincipalTag/eks-cluster-name":"prod"},"Bool":{"aws:SecureTransport":"true"}}},
        {"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
    let set = PolicySet {
        identity: vec![
            Arc::new(
                catalogue::by_name("AmazonS3ReadOnlyAccess")
                    .unwrap()
                    .compile()
                    .unwrap(),
            ),
            Arc::new(NamedPolicy::new(
                "inline",
                PolicyType::Inline,
                Policy::parse(inline, PolicyKind::Identity).unwrap(),
            )),
        ],
        ..PolicySet::default()
    };
    let principal = Principal::AssumedRole(RoleSession {
        account: "111122223333".into(),
        role_name: "app".into(),
        role_path: "/".into(),
        role_id: "AROAEXAMPLEID".into(),
        session_name: "pod".into(),
        tags: vec![
            ("kubernetes-namespace".into(), "apps".into()),
            ("eks-cluster-name".into(), "prod".into()),
        ],
        source_identity: None,
    });
    let put = Request::new(
        principal.clone(),
        "s3:PutObject",
        "arn:aws:s3:::data/apps/x",
    )
    .with("aws:SecureTransport", "true");
    let get = Request::new(
        principal.clone(),
        "s3:GetObject",
        "arn:aws:s3:::data/apps/x",
    );
    let other = Request::new(
        principal.clone(),
        "s3:PutObject",
        "arn:aws:s3:::data/other/x",
    )
    .with("aws:SecureTransport", "true");
    let deny = Request::new(principal, "s3:DeleteBucket", "arn:aws:s3:::data");

    assert_eq!(
        allocations_during(|| evaluate(&set, &put)),
        (Decision::Allow, 0)
    );
    assert_eq!(
        allocations_during(|| evaluate(&set, &get)),
        (Decision::Allow, 0)
    );
    assert_eq!(
        allocations_during(|| evaluate(&set, &other)),
        (Decision::ImplicitDeny, 0)
    );
    assert_eq!(
        allocations_during(|| evaluate(&set, &deny)),
        (Decision::ExplicitDeny, 0)
    );
}
