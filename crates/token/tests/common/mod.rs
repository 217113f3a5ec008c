//! Fixtures shared by the integration tests: keys generated with OpenSSL, and the answers
//! computed independently (OpenSSL for `kid`, Python `cryptography` for JWK parameters).
#![allow(dead_code)]

use podpass_token::{ObjectRef, ServiceAccount, SigningKey, TokenRequest};

pub(crate) const RSA_PKCS8_PEM: &str = include_str!("../fixtures/rsa_pkcs8.pem");
pub(crate) const RSA_PKCS1_PEM: &str = include_str!("../fixtures/rsa_pkcs1.pem");
pub(crate) const RSA_PUBLIC_PEM: &str = include_str!("../fixtures/rsa_pub.pem");
pub(crate) const EC_PKCS8_PEM: &str = include_str!("../fixtures/ec_pkcs8.pem");
pub(crate) const EC_SEC1_PEM: &str = include_str!("../fixtures/ec_sec1.pem");
pub(crate) const EC_PUBLIC_PEM: &str = include_str!("../fixtures/ec_pub.pem");

/// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | base64url`.
pub(crate) const RSA_KID: &str = "mew1N1adOx2NhkRxG7KXHUAvL3ZxhXsYN57-qfrL7l0";
pub(crate) const EC_KID: &str = "EWLcs164ItIy3SzXqFio86FcH0p5XOnl8FTMASK0ynA";

pub(crate) const RSA_N: &str = "3K23ZuZm7exm_059T6gwMYTjBVqBYGvobMJqlee0LN7oO_QF9AYXuIJzdxmqOfkHzuvTcWnXMCxPTRuQogxGo9Kugyl9TwK-oIFAWRfl1KB2MhOmpZw7dbcZPcv1zyhyn9ABzKqIlTL5-YrSHDqDqY78alxZSswYZvZgoYNEhwh_pvc81BnMeNdbi5pLD6BUoHHVu4Ia6QaMM3tC5s7LnduO3wvsdJWCvtD_-ymLaoLRMj8x-voor-G6LWIPT05VntwMKkf5oEWtjUY-SZjqv8RSkOGn639Bv6iX4r7bIh20l5TXSugiH-X8HxdvaoyfdY-JZrl95csA6TZcKDEY9w";
pub(crate) const EC_X: &str = "zjPEI7dXvGz0daYO9lEGfBuMJ7fN57vbDZSJghzsraU";
pub(crate) const EC_Y: &str = "eNkB3Uzjb0rybjRvioE_W2xRjQmkBQsljdIgLGLm3WU";

pub(crate) const ISSUER: &str = "https://issuer.podpass.test";
pub(crate) const AUDIENCE: &str = "sts.amazonaws.com";
pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn rsa_key() -> SigningKey {
    SigningKey::from_pem(RSA_PKCS8_PEM).unwrap()
}

pub(crate) fn ec_key() -> SigningKey {
    SigningKey::from_pem(EC_PKCS8_PEM).unwrap()
}

pub(crate) fn service_account() -> ServiceAccount {
    ServiceAccount {
        namespace: "default".into(),
        name: "app".into(),
        uid: "sa-uid".into(),
    }
}

pub(crate) fn pod_bound_request() -> TokenRequest {
    TokenRequest {
        bound_pod: Some(ObjectRef {
            name: "app-1".into(),
            uid: "pod-uid".into(),
        }),
        bound_node: Some(ObjectRef {
            name: "node-1".into(),
            uid: "node-uid".into(),
        }),
        ..TokenRequest::new([AUDIENCE])
    }
}
