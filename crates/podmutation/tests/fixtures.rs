//! Replays the reference webhook's 24 pod fixtures (see shared/conformance/README.md).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use common::{PinnedJitter, apply, normalise_go_artefacts, op_paths};
use podpass_podmutation::{
    MIN_JITTERED_EXPIRATION, ServiceAccountSettings, WebhookConfig, mutate_pod, parse_go_bool,
};
use serde_json::Value;

/// The fixtures, found at run time from the package directory (a test binary reused from
/// another checkout must not read that one's).
fn fixture_dir() -> std::path::PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../../shared/conformance/eks-pod-identity-webhook/testdata")
}
const TESTING: &str = "testing.eks.amazonaws.com/";
const PREFIX: &str = "eks.amazonaws.com";

fn load_pod(relative: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir().join(relative)).unwrap();
    // rawPodWithInitContainer repeats `serviceAccountName`; Go's YAML loader keeps the last.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins,
    };
    serde_saphyr::from_str_with_options(&text, options).unwrap()
}

fn string_annotations(pod: &Value) -> HashMap<String, String> {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Webhook settings, ServiceAccount and Pod Identity flag as the upstream test driver builds them.
fn environment(testing: &HashMap<String, String>) -> (WebhookConfig, ServiceAccountSettings, bool) {
    let get = |key: &str| testing.get(&format!("{TESTING}{key}")).cloned();
    let mut config = WebhookConfig::default();
    if let Some(region) = get("handler/region") {
        config.aws_default_region = region;
    }
    if let Some(mount_path) = get("handler/mountPath") {
        config.token_mount_path = mount_path;
    }
    let pod_identity = get("containercredentials/uri").is_some_and(|uri| !uri.is_empty());
    if pod_identity {
        // Upstream's fake config takes every value from the annotations, "" when absent.
        let cc = |key: &str| get(&format!("containercredentials/{key}")).unwrap_or_default();
        config.container_credentials_full_uri = cc("uri");
        config.container_credentials_audience = cc("audience");
        config.container_credentials_token_mount_path = cc("mountPath");
        config.container_credentials_token_volume_name = cc("volumeName");
        config.container_credentials_token_path = cc("tokenPath");
    }
    let mut sa = HashMap::new();
    let mut put = |annotation: &str, keys: &[&str]| {
        if let Some(value) = keys.iter().find_map(|key| get(key)) {
            sa.insert(format!("{PREFIX}/{annotation}"), value);
        }
    };
    put("role-arn", &["serviceAccount/roleArn"]);
    put("audience", &["serviceAccount/audience"]);
    put(
        "sts-regional-endpoints",
        &["serviceAccount/sts-regional-endpoints", "handler/injectSTS"],
    );
    put(
        "token-expiration",
        &["serviceAccount/token-expiration", "handler/expiration"],
    );
    let settings = ServiceAccountSettings::from_annotations(PREFIX, &sa);
    (config, settings, pod_identity)
}

fn replay(relative: &str) {
    let mut pod = load_pod(relative);
    let annotations = string_annotations(&pod);
    if annotations
        .get(&format!("{TESTING}skip"))
        .and_then(|v| parse_go_bool(v))
        == Some(true)
    {
        return;
    }
    pod["metadata"]["namespace"] = "default".into();
    pod["spec"]["serviceAccountName"] = "default".into();
    let (config, settings, pod_identity) = environment(&annotations);
    let jitter = PinnedJitter(MIN_JITTERED_EXPIRATION);
    let mutation = mutate_pod(&pod, &config, Some(&settings), pod_identity, &jitter).unwrap();

    let Some(expected) = annotations.get(&format!("{TESTING}expectedPatch")) else {
        assert_eq!(mutation, None, "{relative}: no patch expected");
        return;
    };
    let expected: json_patch::Patch = serde_json::from_str(expected).unwrap();
    let mutation = mutation.unwrap_or_else(|| panic!("{relative}: no mutation"));
    assert_eq!(
        op_paths(&mutation.patch),
        op_paths(&expected),
        "{relative}: patch operations"
    );
    let mut ours = apply(&pod, &mutation.patch);
    let mut theirs = apply(&pod, &expected);
    normalise_go_artefacts(&mut ours);
    normalise_go_artefacts(&mut theirs);
    assert_eq!(
        ours,
        theirs,
        "{relative}: patched pods differ\nours:   {}\ntheirs: {}",
        serde_json::to_string(&mutation.patch).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}

macro_rules! fixtures {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                replay($file);
            }
        )*

        #[test]
        fn every_fixture_file_is_replayed() {
            let listed: BTreeSet<String> = [$($file),*].iter().map(|f| f.to_string()).collect();
            let mut found = BTreeSet::new();
            collect_fixtures(&fixture_dir(), "", &mut found);
            assert_eq!(found, listed);
            assert_eq!(found.len(), 24);
        }
    };
}

fn collect_fixtures(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            collect_fixtures(&entry.path(), &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.insert(format!("{prefix}{name}"));
        }
    }
}

fixtures! {
    beta_windows_pod_without_volumes => "betaWindowsPodWithoutVolumes.pod.yaml",
    init_pod_needs_region => "initPodNeedsRegion.pod.yaml",
    raw_pod_has_all => "rawPodHasAll.pod.yaml",
    raw_pod_has_sts => "rawPodHasSTS.pod.yaml",
    raw_pod_has_token_expiration => "rawPodHasTokenExpiration.pod.yaml",
    raw_pod_has_volume_mount => "rawPodHasVolumeMount.pod.yaml",
    raw_pod_min_token_expiration => "rawPodMinTokenExpiration.pod.yaml",
    raw_pod_needs_region => "rawPodNeedsRegion.pod.yaml",
    raw_pod_needs_sts => "rawPodNeedsSTS.pod.yaml",
    raw_pod_no_sts_annotation_override => "rawPodNoSTSAnnotationOverride.pod.yaml",
    raw_pod_region_present => "rawPodRegionPresent.pod.yaml",
    raw_pod_skip => "rawPodSkip.pod.yaml",
    raw_pod_with_grpc => "rawPodWithGRPC.pod.yaml",
    raw_pod_with_init_container => "rawPodWithInitContainer.pod.yaml",
    raw_pod_with_volumes => "rawPodWithVolumes.pod.yaml",
    raw_pod_without_volumes => "rawPodWithoutVolumes.pod.yaml",
    raw_pod_with_sec_comp_profile => "rawPodWithsecCompProfile.pod.yaml",
    windows_pod_without_volumes => "windowsPodWithoutVolumes.pod.yaml",
    cc_raw_pod_needs_all => "containercredentials/rawPodNeedsAll.pod.yaml",
    cc_raw_pod_skip => "containercredentials/rawPodSkip.pod.yaml",
    cc_raw_pod_with_conflicting_volume_mount => "containercredentials/rawPodWithConflictingVolumeMount.pod.yaml",
    cc_raw_pod_with_role_arn => "containercredentials/rawPodWithRoleArn.pod.yaml",
    cc_raw_pod_with_volume => "containercredentials/rawPodWithVolume.pod.yaml",
    cc_raw_pod_without_volumes => "containercredentials/rawPodWithoutVolumes.pod.yaml",
}

/// The comparison must be able to fail: a wrong expiry on a fixture is caught.
#[test]
fn replay_detects_a_different_patch() {
    let pod = load_pod("rawPodWithoutVolumes.pod.yaml");
    let (mut config, settings, _) = environment(&string_annotations(&pod));
    config.token_expiration = 3600;
    let mutation = mutate_pod(&pod, &config, Some(&settings), false, &PinnedJitter(79200))
        .unwrap()
        .unwrap();
    let expected: json_patch::Patch =
        serde_json::from_str(&string_annotations(&pod)[&format!("{TESTING}expectedPatch")])
            .unwrap();
    let mut ours = apply(&pod, &mutation.patch);
    let mut theirs = apply(&pod, &expected);
    normalise_go_artefacts(&mut ours);
    normalise_go_artefacts(&mut theirs);
    assert_ne!(ours, theirs);
}
