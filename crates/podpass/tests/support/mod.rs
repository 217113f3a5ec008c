//! Drives the real `podpass` binary and the real AWS clients (AWS CLI, boto3) from tests.
#![allow(dead_code)] // each test file uses a different part of the harness

pub(crate) mod apiserver;
pub(crate) mod moto;
pub(crate) mod postgres;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The Python venv holding the pinned AWS CLI and boto3 (made by `scripts/test`).
pub(crate) fn venv() -> PathBuf {
    let venv = std::env::var_os("PODPASS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // At run time: a test binary reused from another checkout must use this one's.
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../../.venv")
        });
    assert!(
        venv.join("bin/aws").exists(),
        "the AWS CLI venv is missing at {}: run the tests with ./scripts/test",
        venv.display()
    );
    venv
}

/// A running `podpass up` in its own data directory and HOME, stopped on drop.
pub(crate) struct Podpass {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    pub instance: serde_json::Value,
    /// More arguments for `podpass up`.
    up_args: Vec<String>,
    /// More environment for `podpass up` and every `podpass` command of this instance.
    env: Vec<(String, String)>,
}

impl Podpass {
    /// Starts a fresh instance on a free loopback port.
    pub(crate) fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// Starts a fresh instance with more `podpass up` arguments, and environment variables for
    /// it and every `podpass` command run on it.
    pub(crate) fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut podpass = Self {
            port: free_port(),
            dir,
            child: None,
            instance: serde_json::Value::Null,
            up_args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        podpass.launch();
        podpass
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("podpass.log")).expect("log file");
        let mut command = self.command();
        command.args([
            "up",
            "--listen",
            &format!("127.0.0.1:{}", self.port),
            "--agent-port",
            "0",
            "--https-listen",
            "127.0.0.1:0",
        ]);
        if !self.up_args.iter().any(|arg| arg == "--s3-listen") {
            command.args(["--s3-listen", "127.0.0.1:0"]);
        }
        let child = command
            .args(&self.up_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn podpass up");
        self.child = Some(child);
        let record = self.data_dir().join("instance.json");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read(&record)
                && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&text)
                && value["pid"].as_u64() == self.child.as_ref().map(|c| u64::from(c.id()))
            {
                self.instance = value;
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("podpass up exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "podpass up did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM) and starts it again on the same port and data.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Stops the server gracefully and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("podpass.log")).unwrap_or_default()
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn issuer(&self) -> String {
        self.instance["issuer_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn agent_url(&self) -> String {
        self.instance["agent_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn s3_endpoint(&self) -> String {
        self.instance["s3_endpoint_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn account(&self) -> String {
        self.instance["account_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `podpass ...` against this instance's data directory. The venv comes first on PATH so
    /// that pods (local processes) find the AWS CLI as a container image would provide it.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_podpass"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .env_clear()
            .env("PATH", path_with_venv())
            .env("HOME", self.home())
            .env("PODPASS_LOG", "info,podpass=debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `podpass args...` and returns its output.
    pub(crate) fn podpass(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run podpass")
    }

    /// Runs `podpass args...`, asserting success, and returns stdout.
    pub(crate) fn podpass_ok(&self, args: &[&str]) -> String {
        let out = self.podpass(args);
        assert!(
            out.status.success(),
            "podpass {args:?} failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `default/<name>` set up for IRSA with the managed `policy` the eksctl way; returns the
    /// command's output and the role ARN the ServiceAccount is annotated with.
    pub(crate) fn irsa_service_account(&self, name: &str, policy: &str) -> (String, String) {
        let out = self.podpass_ok(&[
            "create",
            "iamserviceaccount",
            "--namespace",
            "default",
            "--name",
            name,
            "--attach-policy-arn",
            policy,
            "--approve",
        ]);
        let sa: serde_json::Value =
            serde_json::from_str(&self.podpass_ok(&["sa", "get", name, "-o", "json"]))
                .expect("ServiceAccount JSON");
        let role_arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .expect("annotated")
            .to_owned();
        (out, role_arn)
    }

    /// A token for `default/<sa>` with `audience`, bound to `pod` if given.
    pub(crate) fn token(&self, sa: &str, audience: &str, pod: Option<&str>) -> String {
        let mut args = vec![
            "token",
            "create",
            "--service-account",
            sa,
            "--audience",
            audience,
        ];
        if let Some(pod) = pod {
            args.extend(["--pod", pod]);
        }
        self.podpass_ok(&args).trim().to_owned()
    }

    /// A process environment with only what a pod would have plus the given variables:
    /// no admin profile unless asked for.
    pub(crate) fn client_env(&self, cmd: &mut Command, vars: &[(&str, &str)]) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, v) in vars {
            cmd.env(k, v);
        }
    }

    /// The unmodified AWS CLI with the given environment.
    pub(crate) fn aws(&self, vars: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new(venv().join("bin/aws"));
        self.client_env(&mut cmd, vars);
        cmd.args(args).output().expect("run aws")
    }

    /// The AWS CLI as the admin (the profile `podpass up` wrote).
    pub(crate) fn aws_admin(&self, args: &[&str]) -> Output {
        self.aws(&[("AWS_PROFILE", "podpass")], args)
    }

    /// Like `aws_admin`, asserting success and parsing the JSON output.
    pub(crate) fn aws_admin_json(&self, args: &[&str]) -> serde_json::Value {
        json_output(args, &self.aws_admin(args))
    }

    /// The AWS CLI as `operator`: an IAM user with AdministratorAccess, made on the first call.
    /// Roles are assumed as it, since STS refuses the account root.
    pub(crate) fn aws_operator(&self, args: &[&str]) -> Output {
        let saved = self.dir.path().join("operator-key.json");
        if !saved.exists() {
            self.aws_admin_json(&["iam", "create-user", "--user-name", "operator"]);
            self.aws_admin_json(&[
                "iam",
                "attach-user-policy",
                "--user-name",
                "operator",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ]);
            let created =
                self.aws_admin_json(&["iam", "create-access-key", "--user-name", "operator"]);
            std::fs::write(&saved, created["AccessKey"].to_string()).expect("save the key");
        }
        let key: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&saved).expect("read the key")).expect("key");
        let field = |name: &str| key[name].as_str().expect("access key field");
        self.aws(
            &[
                ("AWS_ACCESS_KEY_ID", field("AccessKeyId")),
                ("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey")),
            ],
            args,
        )
    }

    /// Like `aws_operator`, asserting success and parsing the JSON output.
    pub(crate) fn aws_operator_json(&self, args: &[&str]) -> serde_json::Value {
        json_output(args, &self.aws_operator(args))
    }

    /// Runs a boto3 script with the given environment; the script prints its result.
    pub(crate) fn python(&self, vars: &[(&str, &str)], script: &str) -> Output {
        let mut cmd = Command::new(venv().join("bin/python"));
        self.client_env(&mut cmd, vars);
        let mut child = cmd
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write script");
        child.wait_with_output().expect("python output")
    }

    /// Writes a file under the test directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }
}

impl Drop for Podpass {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The JSON an AWS CLI run printed (null if nothing), asserting that it succeeded.
fn json_output(args: &[&str], out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}",
        text(&out.stderr)
    );
    if out.stdout.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("aws printed JSON")
}

/// The environment of a process using the `Credentials` of an STS answer (AWS CLI JSON).
pub(crate) fn credentials_env(credentials: &serde_json::Value) -> [(&'static str, &str); 3] {
    let field = |name: &str| credentials[name].as_str().expect("STS credentials field");
    [
        ("AWS_ACCESS_KEY_ID", field("AccessKeyId")),
        ("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey")),
        ("AWS_SESSION_TOKEN", field("SessionToken")),
    ]
}

/// PATH with the venv's bin directory first.
pub(crate) fn path_with_venv() -> std::ffi::OsString {
    let mut paths = vec![venv().join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap_or_default()
}

/// Lossy UTF-8 of command output.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the command failed with the AWS error `code` and returns stderr.
pub(crate) fn assert_aws_error(out: &Output, code: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected {code}, but it succeeded: {}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("({code})")),
        "expected ({code}) in:\n{stderr}"
    );
    stderr
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The body of a GET, which must answer.
pub(crate) fn http_get(url: &str) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(url)
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    })
}

/// Serves `router` on a free loopback port from a thread of its own; returns its URL.
pub(crate) fn serve(router: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, router).await.expect("serve");
        });
    });
    url
}

/// `cmd` made `podpass webhook` serving `cert` and `key` on a free port, which it returns.
pub(crate) fn webhook_serving(mut cmd: Command, cert: &Path, key: &Path) -> (Command, u16) {
    let port = free_port();
    cmd.args([
        "webhook",
        "--port",
        &port.to_string(),
        "--metrics-port",
        "0",
    ])
    .arg("--tls-cert")
    .arg(cert)
    .arg("--tls-key")
    .arg(key);
    (cmd, port)
}
