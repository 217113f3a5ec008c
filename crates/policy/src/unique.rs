//! JSON for policy documents: like `serde_json::from_str::<Value>`, but an object that names a
//! member twice is an error at any depth. serde_json keeps the last value, so `"Effect":"Deny",
//! "Effect":"Allow"` would silently be an Allow; IAM refuses such a document as malformed.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::PolicyError;

/// Parses `source`, refusing duplicate object keys with [`PolicyError::DuplicateKey`].
pub(crate) fn parse(source: &str) -> Result<Value, PolicyError> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_str(source);
    let value = UniqueValue {
        duplicate: &mut duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (value, duplicate) {
        (_, Some(key)) => Err(PolicyError::DuplicateKey(key)),
        (Ok(value), None) => Ok(value),
        (Err(_), None) => Err(PolicyError::Syntax),
    }
}

/// A JSON value; records the first duplicate key it meets (and fails the parse).
struct UniqueValue<'a> {
    duplicate: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for UniqueValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueValue {
            duplicate: &mut *self.duplicate,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let error = de::Error::custom(format_args!("duplicate key {key}"));
                *self.duplicate = Some(key);
                return Err(error);
            }
            let value = map.next_value_seed(UniqueValue {
                duplicate: &mut *self.duplicate,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a":[1,-2,3.5,true,null,"s",{"b":{}}],"c":"\u00e9"}"#,
            "  [ ]  ",
            "18446744073709551615",
        ] {
            assert_eq!(
                parse(text).unwrap(),
                serde_json::from_str::<Value>(text).unwrap()
            );
        }
        for bad in ["", "{", "{} {}", "[1,]", r#"{"a":1,}"#] {
            assert_eq!(parse(bad), Err(PolicyError::Syntax), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for (text, key) in [
            (r#"{"a":1,"a":1}"#, "a"),
            (r#"{"x":[{"b":{"c":1,"c":2}}]}"#, "c"),
            // Escapes are decoded before comparing, as IAM compares member names.
            (r#"{"Effect":"Allow","\u0045ffect":"Deny"}"#, "Effect"),
        ] {
            assert_eq!(parse(text), Err(PolicyError::DuplicateKey(key.into())));
        }
        // The same key in sibling objects is no duplicate.
        assert!(parse(r#"[{"a":1},{"a":2}]"#).is_ok());
    }
}
