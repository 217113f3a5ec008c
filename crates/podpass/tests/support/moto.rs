//! moto's server (an independent implementation of AWS's APIs, from the test venv): one IAM
//! user may use S3 and assume roles, and every request after the set-up is authenticated
//! (signature included) against that user's key.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, text, venv};

/// A moto server and its user's key.
pub(crate) struct Moto {
    child: Child,
    pub url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Creates the user, its policy and its key: the three requests moto lets in unsigned.
const MOTO_SETUP: &str = r#"
import boto3
iam = boto3.client("iam")
iam.create_user(UserName="podpass")
iam.put_user_policy(UserName="podpass", PolicyName="s3", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}')
key = iam.create_access_key(UserName="podpass")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

impl Moto {
    pub(crate) fn start() -> Moto {
        let port = free_port();
        let child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            access_key_id: "setup".to_owned(),
            secret_access_key: "setup".to_owned(),
        };
        let key = moto.python(MOTO_SETUP);
        let (id, secret) = key.trim().split_once(' ').expect("key id and secret");
        moto.access_key_id = id.to_owned();
        moto.secret_access_key = secret.to_owned();
        moto
    }

    /// A boto3 script run directly against moto with the user's key.
    pub(crate) fn python(&self, script: &str) -> String {
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", script])
            .env_clear()
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key)
            .output()
            .expect("run python");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
