//! The `content` column: a message as QMQ's Java client stores it, Gson's JSON of
//! `BaseMessage` with longs written as strings (spec §12):
//!
//! ```json
//! {"messageId":"190603.154239.100.80.128.160.3316.0","subject":"order.changed",
//!  "tags":["paid"],"storeAtFailed":false,"durable":true,
//!  "attrs":{"qmq_createTime":"1559547759000","qmq_appCode":"shop","orderId":"42"}}
//! ```
//!
//! Invariants:
//! * [`encode_content`] writes exactly these six fields in this order, every attribute as a
//!   JSON string (our attributes are strings already, which is also what Gson writes for the
//!   reserved longs);
//! * [`decode_content`] also reads what Java writes for attributes set from other types:
//!   an `int` or `double` is a JSON number, a `boolean` a JSON bool. A whole number becomes
//!   its decimal digits (`3` → `"3"`, what Java puts on the wire for an `int` when it sends
//!   directly), a fractional one keeps its JSON text (`1.5`), a bool `"true"`/`"false"`;
//!   `null` attributes are dropped. Unknown fields are ignored;
//! * a row that cannot be decoded, or whose subject QMQ would refuse (empty, `${`, `/` or
//!   whitespace), is a [`ContentError`]: the watchdog marks such rows `-2` and never sends them.

use serde::ser::{SerializeMap, SerializeStruct};
use serde_json::Value;

use crate::client::producer::ProducerMessage;
use crate::protocol::Message;
use crate::protocol::message::{MAX_MESSAGE_ID_LEN, MessageHeader};
use crate::protocol::names::{attr, is_valid_name};

/// Why a `content` value is not a sendable message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// Not JSON at all, or not an object.
    #[error("outbox content is not a JSON object")]
    NotJson {
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A required field is missing or has the wrong JSON type.
    #[error("outbox content field {field:?} is missing or not a {expected}")]
    Field {
        /// The field name.
        field: &'static str,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// The subject is one QMQ refuses to send.
    #[error("outbox content has an unsendable subject {subject:?}")]
    Subject {
        /// The subject found.
        subject: String,
    },
    /// The message id is empty or longer than 100 bytes.
    #[error("outbox content has a message id of {len} bytes (1..=100 allowed)")]
    MessageId {
        /// Its length.
        len: usize,
    },
}

struct Attrs<'a>(&'a [(String, String)]);

impl serde::Serialize for Attrs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct Content<'a>(&'a ProducerMessage);

impl serde::Serialize for Content<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut st = s.serialize_struct("BaseMessage", 6)?;
        st.serialize_field("messageId", m.message_id())?;
        st.serialize_field("subject", m.subject())?;
        st.serialize_field("tags", m.tags())?;
        st.serialize_field("storeAtFailed", &false)?;
        st.serialize_field("durable", &true)?;
        st.serialize_field("attrs", &Attrs(m.properties()))?;
        st.end()
    }
}

/// The `content` value for `message`, in QMQ's format (see the module docs).
pub fn encode_content(message: &ProducerMessage) -> String {
    // Serializing strings, bools and a string map cannot fail.
    serde_json::to_string(&Content(message)).unwrap_or_default()
}

/// Rebuilds the message stored in a `content` value, whether written by [`encode_content`] or
/// by QMQ's Java client; id, tags and every attribute (reserved ones included) are kept.
///
/// # Errors
/// [`ContentError`] when it is not a sendable QMQ message.
pub fn decode_content(content: &str) -> Result<ProducerMessage, ContentError> {
    let value: Value =
        serde_json::from_str(content).map_err(|source| ContentError::NotJson { source })?;
    let obj = value.as_object().ok_or(ContentError::Field {
        field: "(root)",
        expected: "object",
    })?;
    let text = |field: &'static str| {
        obj.get(field)
            .and_then(Value::as_str)
            .ok_or(ContentError::Field {
                field,
                expected: "string",
            })
    };
    let message_id = text("messageId")?.to_owned();
    let subject = text("subject")?.to_owned();
    if !is_valid_name(&subject) || subject.contains("${") {
        return Err(ContentError::Subject { subject });
    }
    if message_id.is_empty() || message_id.len() > MAX_MESSAGE_ID_LEN {
        return Err(ContentError::MessageId {
            len: message_id.len(),
        });
    }
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(ContentError::Field {
                field: "tags",
                expected: "array of strings",
            })?,
        Some(_) => {
            return Err(ContentError::Field {
                field: "tags",
                expected: "array of strings",
            });
        }
    };
    let mut attrs = Vec::new();
    match obj.get("attrs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => number_text(n),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    Value::Array(_) | Value::Object(_) => {
                        return Err(ContentError::Field {
                            field: "attrs",
                            expected: "object of scalars",
                        });
                    }
                };
                attrs.push((key.clone(), text));
            }
        }
        Some(_) => {
            return Err(ContentError::Field {
                field: "attrs",
                expected: "object",
            });
        }
    }
    let find = |key: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    };
    let created_time = find(attr::CREATE_TIME).unwrap_or(0);
    let expire = find(attr::EXPIRE_TIME).unwrap_or(created_time);
    let message = Message {
        header: MessageHeader {
            flag: 0,
            created_time,
            expire_or_schedule_time: expire,
            subject,
            message_id,
            tags,
        },
        attrs,
    };
    Ok(ProducerMessage::restore(message))
}

/// A JSON number as attribute text: whole numbers as plain digits (Gson may have written an
/// `int` as `3` — or, after its own round trip, as `3.0`), others as written.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    /// A row as QMQ's Java client (Gson, LongSerializationPolicy.STRING) writes it, with an
    /// int, a double and a boolean property besides the reserved longs.
    const JAVA_ROW: &str = r#"{"messageId":"190603.154239.100.80.128.160.3316.0","subject":"order.changed","tags":["paid","vip"],"storeAtFailed":false,"durable":true,"attrs":{"qmq_appCode":"shop","qmq_createTime":"1559547759000","qmq_expireTime":"1559548659000","orderId":"42","count":3,"ratio":1.5,"flag":true,"none":null}}"#;

    #[test]
    fn java_rows_decode_with_every_attribute() {
        let m = decode_content(JAVA_ROW).unwrap();
        assert_eq!(m.message_id(), "190603.154239.100.80.128.160.3316.0");
        assert_eq!(m.subject(), "order.changed");
        assert_eq!(m.tags(), ["paid", "vip"]);
        assert_eq!(m.property("qmq_appCode"), Some("shop"));
        assert_eq!(m.property("qmq_createTime"), Some("1559547759000"));
        assert_eq!(m.property("orderId"), Some("42"));
        assert_eq!(m.property("count"), Some("3"));
        assert_eq!(m.property("ratio"), Some("1.5"));
        assert_eq!(m.property("flag"), Some("true"));
        assert_eq!(m.property("none"), None);
        assert!(m.schedule_time().is_none());
        // The record encodes with Java's creation time in the header.
        let wire = m.into_wire(SystemTime::now()).unwrap();
        assert_eq!(wire.message_id, "190603.154239.100.80.128.160.3316.0");
    }

    #[test]
    fn encode_writes_gson_shape_and_roundtrips() {
        let now = UNIX_EPOCH + Duration::from_millis(1_559_547_759_000);
        let mut m = ProducerMessage::new("id-1".into(), "s.x", "app", now).unwrap();
        m.add_tag("t").unwrap();
        m.set_property("k", "v\"q").unwrap();
        m.set_delay_until(now + Duration::from_secs(60)).unwrap();
        let text = encode_content(&m);
        assert!(
            text.starts_with(
                r#"{"messageId":"id-1","subject":"s.x","tags":["t"],"storeAtFailed":false,"durable":true,"attrs":{"qmq_createTime":"1559547759000","#
            ),
            "{text}"
        );
        let back = decode_content(&text).unwrap();
        // JSON objects are unordered: compare the attributes as sets.
        let sorted = |m: &ProducerMessage| {
            let mut a = m.properties().to_vec();
            a.sort();
            a
        };
        assert_eq!(sorted(&back), sorted(&m));
        assert_eq!(
            (back.message_id(), back.subject(), back.tags()),
            (m.message_id(), m.subject(), m.tags())
        );
        assert_eq!(back.schedule_time(), m.schedule_time());
    }

    #[test]
    fn bad_rows_are_content_errors() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"messageId":"a","subject":""}"#,
            r#"{"messageId":"a","subject":"${x}"}"#,
            r#"{"messageId":"a","subject":"a b"}"#,
            r#"{"messageId":"","subject":"s"}"#,
            r#"{"messageId":"a","subject":"s","tags":"x"}"#,
            r#"{"messageId":"a","subject":"s","attrs":{"k":[1]}}"#,
        ] {
            assert!(decode_content(bad).is_err(), "{bad:?}");
        }
        let minimal = decode_content(r#"{"messageId":"a","subject":"s"}"#).unwrap();
        assert!(minimal.tags().is_empty());
    }
}
