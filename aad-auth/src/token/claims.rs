//! Parsing a token's payload into claims, refusing duplicate member names at every depth.
//!
//! `serde_json` keeps the last of two members with one name; another component in a chain (a
//! gateway, a logger, a downstream service) may read the first, so a token with `exp` or `aud`
//! twice means different things to different readers (RFC 7519 §4 allows refusing it, RFC 8725
//! §3.1 advises strict parsing). This is a `serde` visitor rather than a crate because the only
//! crates that do it (`serde_with`'s duplicate-key helpers) work on typed maps, not on
//! `serde_json::Value`, and the visitor is as cheap as `Value`'s own.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The payload as a JSON object, or why not.
pub(crate) fn parse(payload: &[u8]) -> Result<Map<String, Value>, &'static str> {
    match serde_json::from_slice::<Unique>(payload) {
        Ok(Unique(Value::Object(claims))) => Ok(claims),
        Ok(_) => Err("payload is not a JSON object"),
        Err(error) if error.to_string().starts_with(DUPLICATE) => Err("payload has a duplicate member name"),
        Err(_) => Err("payload is not a JSON object"),
    }
}

const DUPLICATE: &str = "duplicate member";

/// A JSON value whose objects have unique member names.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            let Unique(value) = access.next_value()?;
            if map.insert(name, value).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn duplicate_members_are_refused_at_every_depth() {
        for payload in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"aud":"a","sub":"s","aud":"b"}"#,
            r#"{"x":{"a":1,"a":1}}"#,
            r#"{"x":[{"a":1,"a":2}]}"#,
        ] {
            assert_eq!(parse(payload.as_bytes()).err(), Some("payload has a duplicate member name"), "{payload}");
        }
    }

    #[test]
    fn unique_members_parse_like_serde_json() {
        let payload = r#"{"exp":1700000000,"aud":["a","b"],"n":-3,"f":1.5,"t":true,"z":null,"o":{"k":"v"}}"#;
        let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(payload).unwrap_or_default();
        assert_eq!(parse(payload.as_bytes()), Ok(expected));
        // Escaped names that decode to the same name are the same member.
        assert!(parse(br#"{"exp":1,"\u0065xp":2}"#).is_err());
        assert_eq!(parse(b"[1]").err(), Some("payload is not a JSON object"));
        assert_eq!(parse(b"{").err(), Some("payload is not a JSON object"));
    }
}
