//! The Host-header allow-list: pods must call the agent through one of its bind addresses.

use std::net::IpAddr;

/// Checks the request's `Host` value (port and IPv6 brackets stripped as the reference does)
/// against `allowed`; the error is the reference's 403 text.
pub(super) fn check_host(raw_host: &str, allowed: &[IpAddr]) -> Result<(), String> {
    let host = strip_brackets(split_host_port(raw_host).unwrap_or(raw_host));
    if host.parse::<IpAddr>().is_ok_and(|ip| allowed.contains(&ip)) {
        return Ok(());
    }
    let listed: Vec<String> = allowed.iter().map(IpAddr::to_string).collect();
    Err(format!(
        "Access Denied. Called agent through invalid address, please use either [{}] address not {host}",
        listed.join(" ")
    ))
}

/// The host part of `host:port` / `[v6]:port` (Go `net.SplitHostPort`); `None` without a port.
fn split_host_port(value: &str) -> Option<&str> {
    if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        rest[end + 1..].strip_prefix(':')?;
        return Some(&rest[..end]);
    }
    let (host, _port) = value.rsplit_once(':')?;
    // A bare IPv6 address has more colons: it is not host:port.
    (!host.contains(':')).then_some(host)
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<IpAddr> {
        vec![
            "169.254.170.23".parse().unwrap(),
            "fd00:ec2::23".parse().unwrap(),
        ]
    }

    #[test]
    fn accepts_bind_addresses_with_and_without_port_or_brackets() {
        for host in [
            "169.254.170.23",
            "169.254.170.23:80",
            "fd00:ec2::23",
            "[fd00:ec2::23]",
            "[fd00:ec2::23]:80",
            "[FD00:EC2::23]:2703",
        ] {
            assert_eq!(check_host(host, &defaults()), Ok(()), "{host}");
        }
    }

    #[test]
    fn rejects_other_hosts_with_the_reference_message() {
        assert_eq!(
            check_host("124.3.1.2", &defaults()),
            Err("Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 124.3.1.2".into())
        );
        let local = check_host("127.0.0.1:24432", &defaults()).unwrap_err();
        assert!(local.ends_with("address not 127.0.0.1"), "{local}");
        let empty = check_host("", &defaults()).unwrap_err();
        assert!(empty.ends_with("address not "), "{empty}");
        for host in [
            "localhost",
            "169.254.170.23.nip.io",
            "[169.254.170.23",
            "fd00:ec2::24",
        ] {
            assert!(check_host(host, &defaults()).is_err(), "{host}");
        }
    }
}
