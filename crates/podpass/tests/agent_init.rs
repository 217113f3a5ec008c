//! `podpass agent init`, as the DaemonSet's init container runs it: EKS's addresses on a dummy
//! link, in a network namespace of the test's own (a node's, as far as the kernel can tell),
//! then the agent serving on them. Needs root for the namespace, as CI has.

use std::process::Command;

#[test]
fn agent_init_gives_the_node_ekss_addresses_and_the_agent_serves_on_them() {
    if !Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to make a network namespace (root)"
        );
        eprintln!("skipped: no network namespace without root");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_podpass");
    // Twice: the second run finds the link and addresses and keeps them.
    let script = format!(
        r#"set -e
ip link set lo up
{bin} agent init
{bin} agent init
ip -o addr show dev pod-id-link0
ip -o link show dev pod-id-link0
{bin} agent --cluster-name c1 --port 8080 --probe-port 0 --metrics-port 0 --metrics-address 127.0.0.1 --endpoint http://127.0.0.1:9 --region us-east-1 2>/dev/null &
for i in $(seq 50); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' http://169.254.170.23:8080/v1/credentials || true)
  [ "$code" != 000 ] && break
  sleep 0.1
done
echo "agent answered $code"
kill $!
"#
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("inet 169.254.170.23/32"), "{stdout}");
    let ipv6 = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .is_ok_and(|v| v.trim() == "0");
    if ipv6 {
        assert!(stdout.contains("inet6 fd00:ec2::23/128"), "{stdout}");
    }
    assert!(stdout.contains(",UP,"), "the link is up: {stdout}");
    assert!(
        stdout.contains("agent answered 4"),
        "the agent serves on EKS's address and refuses a request without a token: {stdout}"
    );
    // Without NET_ADMIN (outside a namespace of its own, as an unprivileged user would be, or
    // here: a name no link may have), init fails loudly instead of leaving a half-set node.
    let bad = Command::new("unshare")
        .args(["--net", bin, "agent", "init", "--link-name", "a/b"])
        .output()
        .expect("unshare");
    assert!(!bad.status.success());
}
