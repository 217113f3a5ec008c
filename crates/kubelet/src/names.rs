//! Kubernetes name rules (names become directory names, so they are checked before any use)
//! and the API server's random name suffix.

use rand::Rng;

/// Alphabet of the API server's random suffixes (`k8s.io/apimachinery/pkg/util/rand`):
/// lowercase consonants and digits, no vowels so no words are spelled.
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random suffix of `len` characters, as `generateName` and the ServiceAccount admission use.
pub(crate) fn random_suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())]))
        .collect()
}

/// Checks a DNS-1123 label (namespace, container and volume names): at most 63 characters of
/// `[a-z0-9-]`, starting and ending alphanumeric.
pub(crate) fn check_label(field: &str, value: &str) -> Result<(), String> {
    check_dns(field, value, 63, false)
}

/// Checks a DNS-1123 subdomain (pod and ServiceAccount names): at most 253 characters of
/// `[a-z0-9.-]`, each dot-separated part starting and ending alphanumeric.
pub(crate) fn check_subdomain(field: &str, value: &str) -> Result<(), String> {
    check_dns(field, value, 253, true)
}

fn check_dns(field: &str, value: &str, max: usize, dots: bool) -> Result<(), String> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let part_ok = |part: &str| {
        !part.is_empty()
            && part.chars().all(|c| alnum(c) || c == '-')
            && part.starts_with(alnum)
            && part.ends_with(alnum)
    };
    let valid = !value.is_empty()
        && value.len() <= max
        && if dots {
            value.split('.').all(part_ok)
        } else {
            part_ok(value)
        };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{field}: Invalid value: {value:?}: a lowercase RFC 1123 {} must consist of lower case alphanumeric characters{}",
            if dots { "subdomain" } else { "label" },
            if dots { ", '-' or '.'" } else { " or '-'" }
        ))
    }
}

/// Checks a path inside a volume: relative, no `..` element, not empty (as the API server).
pub(crate) fn check_relative_path(field: &str, value: &str) -> Result<(), String> {
    let bad = value.is_empty()
        || value.starts_with('/')
        || value.split('/').any(|part| part == ".." || part.is_empty())
        || value.starts_with("..");
    if bad {
        Err(format!(
            "{field}: Invalid value: {value:?}: must be a relative path without '..' or empty elements, not starting with '..'"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(check_label("f", "kube-system").is_ok());
        assert!(check_label("f", "a").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", "a/b", "..", &"a".repeat(64)] {
            assert!(check_label("f", bad).is_err(), "{bad}");
        }
        assert!(check_subdomain("f", "my.pod-1").is_ok());
        for bad in ["", ".a", "a..b", "a/b", "../x", "a_b"] {
            assert!(check_subdomain("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths() {
        for good in ["token", "a/b", "ca.crt", ".hidden"] {
            assert!(check_relative_path("p", good).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "..data", "a/"] {
            assert!(check_relative_path("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suffix_uses_the_api_server_alphabet() {
        let suffix = random_suffix(5);
        assert_eq!(suffix.len(), 5);
        assert!(suffix.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
    }
}
