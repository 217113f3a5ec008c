//! Authorization decisions per second: podpass-policy against cedar-policy, same decisions.
//!
//! Both engines get their policies and (for Cedar) entities prepared once; each iteration builds
//! the request from strings, as a server does per call, and decides it. `podpass-prebuilt` also
//! shows the evaluation alone, on a request built outside the loop.

use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet as CedarPolicySet, Request as CedarRequest, Response,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use podpass_bench::policy::{
    CEDAR_ACTION_TYPE, CEDAR_PRINCIPAL_TYPE, CEDAR_RESOURCE_TYPE, Case, Scenario, generated,
    irsa_role,
};
use podpass_policy::{PrincipalContext, Request, evaluate};

/// Cedar's side of a scenario, prepared once.
struct Cedar {
    authorizer: Authorizer,
    policies: CedarPolicySet,
    entities: Entities,
    principal_type: EntityTypeName,
    action_type: EntityTypeName,
    resource_type: EntityTypeName,
}

impl Cedar {
    fn new(scenario: &Scenario) -> Self {
        let type_name = |name| EntityTypeName::from_str(name).expect("valid Cedar type name");
        Cedar {
            authorizer: Authorizer::new(),
            policies: scenario
                .cedar_policies
                .parse()
                .expect("fixture Cedar policies parse"),
            entities: Entities::from_json_value(scenario.cedar_entities.clone(), None)
                .expect("fixture Cedar entities load"),
            principal_type: type_name(CEDAR_PRINCIPAL_TYPE),
            action_type: type_name(CEDAR_ACTION_TYPE),
            resource_type: type_name(CEDAR_RESOURCE_TYPE),
        }
    }

    /// Builds the request from strings and authorizes it.
    fn authorize(&self, principal_id: &str, case: &Case) -> Response {
        let uid = |kind: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
        };
        let request = CedarRequest::new(
            uid(&self.principal_type, principal_id),
            uid(&self.action_type, &case.action),
            uid(&self.resource_type, &case.resource),
            Context::empty(),
            None,
        )
        .expect("request without schema");
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
    }
}

fn podpass_request(scenario: &Scenario, case: &Case) -> Request {
    Request::new(
        scenario.principal.clone(),
        &case.action,
        case.resource.as_str(),
    )
}

/// Both engines must reach the labelled decision, Cedar without evaluation errors (an erroring
/// policy is skipped by Cedar, which would make the comparison meaningless).
fn assert_same_decisions(scenario: &Scenario, cedar: &Cedar) {
    let principal_id = scenario.principal_id();
    for case in &scenario.cases {
        let podpass = evaluate(&scenario.iam, &podpass_request(scenario, case));
        let response = cedar.authorize(&principal_id, case);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{}: Cedar errors {errors:?}", case.label);
        assert_eq!(podpass.is_allowed(), case.allowed, "podpass on {case:?}");
        assert_eq!(
            response.decision() == CedarDecision::Allow,
            case.allowed,
            "Cedar on {case:?}"
        );
    }
}

fn bench_scenario(c: &mut Criterion, scenario: &Scenario) {
    let cedar = Cedar::new(scenario);
    assert_same_decisions(scenario, &cedar);
    let principal_id = scenario.principal_id();
    let mut group = c.benchmark_group(format!("policy/{}", scenario.name));
    group.throughput(Throughput::Elements(1));
    for case in &scenario.cases {
        group.bench_function(format!("podpass/{}", case.label), |b| {
            b.iter(|| evaluate(&scenario.iam, &podpass_request(scenario, black_box(case))))
        });
        // As podpass's endpoints do: the caller's principal context kept across requests.
        let caller: Arc<PrincipalContext> = scenario.principal.clone().into();
        group.bench_function(format!("podpass-kept-principal/{}", case.label), |b| {
            b.iter(|| {
                let request = Request::new(caller.clone(), &case.action, case.resource.as_str());
                evaluate(&scenario.iam, black_box(&request))
            })
        });
        let prebuilt = podpass_request(scenario, case);
        group.bench_function(format!("podpass-prebuilt/{}", case.label), |b| {
            b.iter(|| evaluate(&scenario.iam, black_box(&prebuilt)))
        });
        group.bench_function(format!("cedar/{}", case.label), |b| {
            b.iter(|| cedar.authorize(&principal_id, black_box(case)).decision())
        });
    }
    group.finish();
}

fn policy(c: &mut Criterion) {
    let irsa = irsa_role().expect("IRSA fixture builds");
    bench_scenario(c, &irsa);
    let generated = generated(100).expect("generated fixture builds");
    bench_scenario(c, &generated);
}

criterion_group! {
    name = benches;
    config = podpass_bench::criterion();
    targets = policy
}
criterion_main!(benches);
