//! The examples at the end of each command's `--help`: what a user types first.

pub(crate) const UP: &str = "Examples:
  # Everything on this machine, nothing to configure (state in ~/.local/share/podpass)
  podpass up

  # Over PostgreSQL, reachable from other machines
  podpass up --database-url postgres://podpass:secret@db/podpass --listen 0.0.0.0:7700 \\
    --public-url http://podpass.internal:7700

  # The API of a cluster install: a real cluster's tokens, no local node
  podpass up --cluster kind --cluster-issuer-url https://kubernetes.default.svc.cluster.local \\
    --cluster-jwks-file kind-jwks.json";

pub(crate) const ENV: &str = "Examples:
  podpass env
  eval \"$(podpass env)\"
  aws sts get-caller-identity";

pub(crate) const AGENT: &str = "Examples:
  # As the DaemonSet runs it: EKS's addresses, its own identity from the SDK's chain
  podpass agent --cluster-name kind --endpoint http://podpass-api.podpass.svc:7700

  # On loopback, for a try
  podpass agent --cluster-name demo --bind-hosts 127.0.0.1 --port 8080";

pub(crate) const AGENT_INIT: &str = "Examples:
  # What the DaemonSet's init container runs (needs NET_ADMIN)
  podpass agent init --bind-hosts 169.254.170.23,[fd00:ec2::23]";

pub(crate) const WEBHOOK: &str = "Examples:
  # As the Deployment runs it, in the cluster
  podpass webhook --tls-cert /etc/podpass/webhook-tls/tls.crt --tls-key /etc/podpass/webhook-tls/tls.key

  # Pod Identity associations from podpass's EKS API, and pods pointed at podpass
  podpass webhook --pod-identity-cluster kind --sts-endpoint-url http://podpass-api.podpass.svc:7700";

pub(crate) const TOKEN_CREATE: &str = "Examples:
  # A token as a pod's projected volume holds it, for IRSA
  podpass token create --service-account reader --audience sts.amazonaws.com --pod web-0

  # Written to a file, as the kubelet writes it
  podpass token create --service-account reader --audience pods.eks.amazonaws.com -o token";

pub(crate) const TOKEN_DECODE: &str = "Examples:
  podpass token decode eyJhbGciOiJSUzI1NiIs...
  podpass token decode /var/run/secrets/eks.amazonaws.com/serviceaccount/token
  podpass exec web-0 -- cat /var/run/secrets/eks.amazonaws.com/serviceaccount/token | podpass token decode";

pub(crate) const CLUSTER_LIST: &str = "Examples:
  podpass cluster list";

pub(crate) const ROTATE_KEY: &str = "Examples:
  podpass cluster rotate-key --cluster demo
  podpass cluster rotate-key --cluster demo --algorithm es256";

pub(crate) const RETIRE_KEY: &str = "Examples:
  # A leaked key: its tokens stop verifying within --issuer-keys-refresh
  podpass cluster list
  podpass cluster retire-key --cluster demo --kid 5f0c...";

pub(crate) const ROTATE_SESSION_KEY: &str = "Examples:
  podpass cluster rotate-session-key";

pub(crate) const SA_CREATE: &str = "Examples:
  podpass sa create reader
  podpass sa create reader -n team";

pub(crate) const SA_GET: &str = "Examples:
  podpass sa get
  podpass sa get reader -o yaml
  podpass sa get -A -o name";

pub(crate) const SA_ANNOTATE: &str = "Examples:
  # IRSA by hand (podpass create iamserviceaccount does the role too)
  podpass sa annotate reader eks.amazonaws.com/role-arn=arn:aws:iam::000000000000:role/reader
  podpass sa annotate reader eks.amazonaws.com/role-arn-";

pub(crate) const SA_DELETE: &str = "Examples:
  podpass sa delete reader -n team";

pub(crate) const RUN: &str = "Examples:
  # A pod, streamed to the end, failing as it fails
  podpass run -f pod.yaml --attach

  # A whole install file: its ServiceAccounts, Secrets, ConfigMaps and one pod per workload
  podpass manifests > podpass.yaml && podpass run -f podpass.yaml

  # Again, over the pod of the same name
  podpass run -f pod.yaml --replace";

pub(crate) const APPLY: &str = "Examples:
  # Create what the file describes; run it again and what did not change is left alone
  podpass apply -f app.yaml

  # After editing a Deployment's template: its pod is replaced by one of the new template
  podpass apply -f app.yaml

  # A bare Pod whose spec changed: delete and re-create it
  podpass apply -f pod.yaml --force";

pub(crate) const LOGS: &str = "Examples:
  podpass logs eks-iam-test3
  podpass logs podpass-agent-0 -n podpass -c link
  podpass logs web-0 -f";

pub(crate) const EXEC: &str = "Examples:
  podpass exec web-0 -- env
  podpass exec web-0 -c app -- cat /var/run/secrets/eks.amazonaws.com/serviceaccount/token";

pub(crate) const DEMO: &str = "Examples:
  # In one terminal
  podpass up
  # In another: five pods, each showing one way a pod gets (or is refused) AWS credentials
  podpass demo";

pub(crate) const AUDIT: &str = "Examples:
  # Why was it denied?
  podpass audit --denied
  podpass audit --principal arn:aws:sts::000000000000:assumed-role/reader/web --since 10m
  podpass audit --json | jq .";

pub(crate) const EXPLAIN: &str = "Examples:
  # Would this role's session be allowed to read the object, and which statement decides?
  podpass explain --role reader --action s3:GetObject --resource arn:aws:s3:::reports/q3.csv

  # Would a pod of apps/web take the role through IRSA? (the sub its trust policy checks)
  podpass explain --trust-of reader --action sts:AssumeRoleWithWebIdentity \\
    --caller arn:aws:iam::000000000000:oidc-provider/oidc.example.com/id/ABC \\
    --context oidc.example.com/id/ABC:sub=system:serviceaccount:apps:web";

pub(crate) const IAM_LINT: &str = "Examples:
  podpass iam lint trust.json
  podpass iam lint --role reader
  # In CI: every role, failing on errors (or on warnings too)
  podpass iam lint --all --strict";

pub(crate) const CREATE_IAMSERVICEACCOUNT: &str = "Examples:
  podpass create iamserviceaccount --name reader --namespace apps \\
    --attach-policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --approve";

pub(crate) const CREATE_PODIDENTITYASSOCIATION: &str = "Examples:
  podpass create podidentityassociation --namespace apps --service-account-name reader \\
    --role-name reader --permission-policy-arns arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

pub(crate) const GET_IAMSERVICEACCOUNT: &str = "Examples:
  podpass get iamserviceaccount
  podpass get iamserviceaccount --namespace apps --name reader";

pub(crate) const GET_PODIDENTITYASSOCIATION: &str = "Examples:
  podpass get podidentityassociation
  podpass get podidentityassociation --namespace apps";

pub(crate) const GET_PODS: &str = "Examples:
  podpass get pods
  podpass get pods -A -o wide
  podpass get pods -n podpass -o name";

pub(crate) const GET_POD: &str = "Examples:
  # As admitted: the webhook's env, token volume and mounts
  podpass get pod eks-iam-test3 -o yaml";

pub(crate) const DELETE_IAMSERVICEACCOUNT: &str = "Examples:
  podpass delete iamserviceaccount --name reader
  podpass delete iamserviceaccount --namespace apps --name reader";

pub(crate) const DELETE_PODIDENTITYASSOCIATION: &str = "Examples:
  podpass delete podidentityassociation --namespace apps --service-account-name reader";

pub(crate) const DELETE_POD: &str = "Examples:
  podpass delete pod web-0
  podpass delete pod podpass-api-0 -n podpass";
