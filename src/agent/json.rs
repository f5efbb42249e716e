//! Small serde helpers for agents' JSON events, which are loosely typed: a field can be a
//! string in one event and an object in another.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A field that is either a string or a structured value `T`.
#[derive(Debug, Clone, Default)]
pub enum StrOr<T> {
    Str(String),
    Value(T),
    /// Anything else (a number, null, a list where an object was expected…), ignored.
    #[default]
    Other,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StrOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StrOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrOr::Str(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StrOr::Value)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(StrOr::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StrOr::Other)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A list of `T`, also accepting a single string (as `T::from(string)`) or any other scalar
/// or object (as an empty list). Elements are read directly (no intermediate value), so an
/// element of the wrong shape makes the whole event unreadable.
#[derive(Debug, Clone)]
pub struct ListOrStr<T>(pub Vec<T>);

impl<T> Default for ListOrStr<T> {
    fn default() -> Self {
        ListOrStr(Vec::new())
    }
}

impl<'de, T: Deserialize<'de> + From<String>> Deserialize<'de> for ListOrStr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + From<String>> Visitor<'de> for V<T> {
            type Value = ListOrStr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ListOrStr(vec![T::from(v.to_string())]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ListOrStr(vec![T::from(v)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(ListOrStr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ListOrStr(Vec::new()))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A number that may also arrive as a string or be absent.
pub fn number(value: Option<&serde_json::Value>) -> Option<f64> {
    match value? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        #[serde(default)]
        m: StrOr<Inner>,
        #[serde(default)]
        l: ListOrStr<String>,
    }

    #[test]
    fn str_or_value() {
        let o: Outer = serde_json::from_str(r#"{"m": "text", "l": ["x", "y"]}"#).unwrap();
        assert!(matches!(o.m, StrOr::Str(ref s) if s == "text"));
        assert_eq!(o.l.0, ["x", "y"]);
        let o: Outer = serde_json::from_str(r#"{"m": {"a": 3}, "l": "only"}"#).unwrap();
        assert!(matches!(o.m, StrOr::Value(Inner { a: 3 })));
        assert_eq!(o.l.0, ["only"]);
        let o: Outer = serde_json::from_str(r#"{"m": [1], "l": {"k": 1}}"#).unwrap();
        assert!(matches!(o.m, StrOr::Other));
        assert!(o.l.0.is_empty());
    }

    #[test]
    fn numbers() {
        assert_eq!(number(Some(&serde_json::json!(1.5))), Some(1.5));
        assert_eq!(number(Some(&serde_json::json!("2"))), Some(2.0));
        assert_eq!(number(Some(&serde_json::json!(null))), None);
        assert_eq!(number(None), None);
    }
}
