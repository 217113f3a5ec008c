//! A container's environment and argv as the kubelet computes them: `valueFrom` sources and
//! `$(VAR)` references expanded.

use std::collections::HashMap;

use crate::fields::field_value;
use crate::manifest::{Container, EnvSource, KeyRef, Pod};
use crate::sources::ObjectSource;

/// The container's env, in declaration order (a later entry with the same name wins).
pub async fn resolve_env(
    pod: &Pod,
    container: &Container,
    objects: &dyn ObjectSource,
) -> Result<Vec<(String, String)>, String> {
    let mut resolved: Vec<(String, String)> = Vec::new();
    for var in &container.env {
        let value = match &var.source {
            EnvSource::Value(value) => {
                let defined: HashMap<&str, &str> = resolved
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                expand(value, &defined)
            }
            EnvSource::FieldRef(path) => field_value(pod, path)?,
            EnvSource::ConfigMapKey(key) => {
                let data = objects
                    .config_map(&pod.namespace, &key.name)
                    .await
                    .map_err(|e| format!("configmap {:?}: {e}", key.name))?;
                match lookup(data, key, "configmap")? {
                    Some(value) => value,
                    None => continue,
                }
            }
            EnvSource::SecretKey(key) => {
                let data = objects
                    .secret(&pod.namespace, &key.name)
                    .await
                    .map_err(|e| format!("secret {:?}: {e}", key.name))?;
                match lookup(data, key, "secret")? {
                    Some(value) => value,
                    None => continue,
                }
            }
        };
        resolved.retain(|(name, _)| name != &var.name);
        resolved.push((var.name.clone(), value));
    }
    Ok(resolved)
}

/// The key's value; `None` when missing and optional.
fn lookup(
    data: Option<crate::sources::ObjectData>,
    key: &KeyRef,
    kind: &str,
) -> Result<Option<String>, String> {
    match data.and_then(|d| d.get(&key.key).cloned()) {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{kind} {:?} key {:?} is not UTF-8", key.name, key.key)),
        None if key.optional => Ok(None),
        None => Err(format!(
            "couldn't find key {} in {kind} {:?}",
            key.key, key.name
        )),
    }
}

/// The container's argv (`command` then `args`) with `$(VAR)` references expanded.
pub fn argv(container: &Container, env: &[(String, String)]) -> Vec<String> {
    let defined: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    container
        .command
        .iter()
        .chain(&container.args)
        .map(|arg| expand(arg, &defined))
        .collect()
}

/// Kubernetes `$(VAR)` expansion: defined references are replaced, `$$` is a literal `$`,
/// anything else is left as written.
pub fn expand(input: &str, defined: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match defined.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_rules() {
        let defined = HashMap::from([("A", "1"), ("B", "two")]);
        assert_eq!(expand("$(A)-$(B)", &defined), "1-two");
        assert_eq!(expand("$(C)", &defined), "$(C)");
        assert_eq!(expand("$$(A)", &defined), "$(A)");
        assert_eq!(expand("cost $5 $", &defined), "cost $5 $");
        assert_eq!(expand("$(A", &defined), "$(A");
    }
}
