//! Question ids are numbers in some files and strings in others; both are kept as written.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone)]
pub struct QuestionId {
    /// The canonical text form, used for matching (`81` and `"81"` are the same question).
    key: String,
    /// The id as written, so output files round-trip.
    raw: serde_json::Value,
}

impl QuestionId {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn raw(&self) -> &serde_json::Value {
        &self.raw
    }

    /// Restores an id from its stored text form: numbers come back as numbers, and text that
    /// only looks like one (`"007"`, `"+1"`) stays text.
    pub fn from_key(key: &str) -> Self {
        match key.parse::<i64>() {
            Ok(n) if n.to_string() == key => QuestionId { key: key.to_string(), raw: serde_json::Value::from(n) },
            _ => QuestionId { key: key.to_string(), raw: serde_json::Value::from(key) },
        }
    }
}

impl PartialEq for QuestionId {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for QuestionId {}

impl Hash for QuestionId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for QuestionId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QuestionId {
    /// Numeric ids sort numerically, then text ids alphabetically.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.key.parse::<i64>(), other.key.parse::<i64>()) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => self.key.cmp(&other.key),
        }
    }
}

impl fmt::Display for QuestionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl Serialize for QuestionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for QuestionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        let key = match &raw {
            serde_json::Value::String(s) if !s.trim().is_empty() => s.clone(),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a whole number or a non-empty text id, got {other}"
                )));
            }
        };
        Ok(QuestionId { key, raw })
    }
}
