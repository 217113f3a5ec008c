//! ServiceAccount token claims, laid out as kube-apiserver writes them.
//!
//! go-jose normalises claims through a Go map, so every object's keys come out sorted; the
//! struct fields below are declared in that order.

use serde::{Deserialize, Deserializer, Serialize};

/// A reference to a Kubernetes object: `{name, uid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object name.
    pub name: String,
    /// Object UID.
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    /// Namespace of the ServiceAccount.
    pub namespace: String,
    /// Node the token is bound to (node binding, or pod binding with node info).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// Pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// Secret the token is bound to (legacy binding; never minted by podpass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The ServiceAccount itself.
    pub serviceaccount: ObjectRef,
    /// Warn-after time of extended default tokens (never minted by podpass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Verified or minted JWT claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Audiences (always an array on the wire when minted; a string is accepted when read).
    pub aud: Vec<String>,
    /// Authorized party, present in some OIDC ID tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued-at, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer URL.
    pub iss: String,
    /// Token id (a UUID for Kubernetes tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Kubernetes private claims; absent in tokens from other issuers.
    #[serde(rename = "kubernetes.io", skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesClaims>,
    /// Not-before, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Subject: `system:serviceaccount:NS:NAME` for Kubernetes tokens.
    pub sub: String,
}

/// Claims as found on the wire, before required ones are checked.
#[derive(Debug, Deserialize)]
pub(crate) struct RawClaims {
    aud: Option<OneOrMany>,
    azp: Option<String>,
    exp: Option<NumericDate>,
    iat: Option<NumericDate>,
    iss: Option<String>,
    jti: Option<String>,
    #[serde(rename = "kubernetes.io")]
    kubernetes: Option<KubernetesClaims>,
    nbf: Option<NumericDate>,
    sub: Option<String>,
}

impl RawClaims {
    /// The claims, or the name of the first required claim (`iss`, `sub`, `aud`, `exp`) missing.
    pub(crate) fn require(self) -> Result<Claims, &'static str> {
        Ok(Claims {
            iss: self.iss.ok_or("iss")?,
            sub: self.sub.ok_or("sub")?,
            aud: self.aud.ok_or("aud")?.into_vec(),
            exp: self.exp.ok_or("exp")?.0,
            azp: self.azp,
            iat: self.iat.map(|date| date.0),
            jti: self.jti,
            kubernetes: self.kubernetes,
            nbf: self.nbf.map(|date| date.0),
        })
    }
}

/// `aud` may be a single string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

/// A JWT NumericDate: integer or fractional seconds, truncated to whole seconds as Go does.
#[derive(Debug, Clone, Copy)]
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        if let Some(seconds) = number.as_i64() {
            return Ok(NumericDate(seconds));
        }
        match number.as_f64() {
            // `as` saturates at the i64 bounds, which is the right clamp for a date.
            Some(seconds) if seconds.is_finite() => Ok(NumericDate(seconds.trunc() as i64)),
            _ => Err(serde::de::Error::custom("NumericDate out of range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Claims, &'static str> {
        serde_json::from_str::<RawClaims>(json).unwrap().require()
    }

    #[test]
    fn accepts_string_audience_and_fractional_dates() {
        let claims = parse(r#"{"iss":"i","sub":"s","aud":"a","exp":12.9,"nbf":1e3}"#).unwrap();
        assert_eq!(claims.aud, vec!["a".to_owned()]);
        assert_eq!(claims.exp, 12);
        assert_eq!(claims.nbf, Some(1000));
        assert_eq!(claims.iat, None);
    }

    #[test]
    fn reports_the_missing_claim_by_name() {
        assert_eq!(parse(r#"{"sub":"s","aud":"a","exp":1}"#), Err("iss"));
        assert_eq!(parse(r#"{"iss":"i","aud":"a","exp":1}"#), Err("sub"));
        assert_eq!(parse(r#"{"iss":"i","sub":"s","exp":1}"#), Err("aud"));
        assert_eq!(parse(r#"{"iss":"i","sub":"s","aud":["a"]}"#), Err("exp"));
        assert_eq!(
            parse(r#"{"iss":"i","sub":null,"aud":"a","exp":1}"#),
            Err("sub")
        );
    }

    #[test]
    fn rejects_non_numeric_dates() {
        assert!(serde_json::from_str::<RawClaims>(r#"{"exp":"1"}"#).is_err());
        assert!(serde_json::from_str::<RawClaims>(r#"{"aud":7}"#).is_err());
    }
}
