//! The proto3 JSON mapping of the `um.*` messages, driven by the
//! `FileDescriptorSet` um-proto ships, so the REST gateway answers with the
//! very messages the gRPC service returns: field names as in the `.proto`
//! (snake_case, like the Cosmos SDK gateway), 64-bit integers as decimal
//! strings, bytes as base64, enums by name, every field present (defaults
//! included, absent messages as `null`) so the shapes are stable.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use serde_json::{Map, Value};

struct Registry {
    /// Fully qualified names with a leading dot, as `type_name` spells them.
    messages: HashMap<String, DescriptorProto>,
    enums: HashMap<String, EnumDescriptorProto>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        // The set is generated at build time by um-proto; an undecodable one
        // would leave the registry empty and every conversion failing loudly.
        let set = FileDescriptorSet::decode(um_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
        for file in set.file {
            let prefix = format!(".{}", file.package());
            for message in &file.message_type {
                add_message(&mut registry, &prefix, message);
            }
            for e in &file.enum_type {
                registry
                    .enums
                    .insert(format!("{prefix}.{}", e.name()), e.clone());
            }
        }
        registry
    })
}

fn add_message(registry: &mut Registry, prefix: &str, message: &DescriptorProto) {
    let name = format!("{prefix}.{}", message.name());
    for nested in &message.nested_type {
        add_message(registry, &name, nested);
    }
    for e in &message.enum_type {
        registry
            .enums
            .insert(format!("{name}.{}", e.name()), e.clone());
    }
    registry.messages.insert(name, message.clone());
}

/// Whether `full_name` (e.g. `um.training.v1.ModelVersion`) is known.
pub fn knows(full_name: &str) -> bool {
    registry().messages.contains_key(&format!(".{full_name}"))
}

/// The proto3 JSON of the encoded message `bytes` of type `full_name`.
pub fn to_json(full_name: &str, bytes: &[u8]) -> Result<Value, String> {
    decode_message(&format!(".{full_name}"), bytes, 0)
}

/// A proof as the responses' `proof` field renders it: height and ops with
/// base64 keys and data.
pub fn state_proof_json(proof: &um_proto::um::common::v1::StateProof) -> Value {
    to_json("um.common.v1.StateProof", &proof.encode_to_vec()).unwrap_or(Value::Null)
}

/// The JSON of an `Any`: `{"@type": url, ...fields}` for a known `um.*`
/// type, else `{"@type": url, "value": base64}`.
pub fn any_to_json(type_url: &str, value: &[u8]) -> Value {
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(type_url.to_string()));
    match to_json(name, value) {
        Ok(Value::Object(fields)) => object.extend(fields),
        _ => {
            object.insert("value".into(), Value::String(B64.encode(value)));
        }
    }
    Value::Object(object)
}

/// JSON Schemas (OpenAPI 3.0 flavour) of every `um.*` message, keyed by full
/// name without the leading dot; nested messages are `$ref`s into
/// `#/components/schemas/`.
pub fn schemas() -> Map<String, Value> {
    let registry = registry();
    let mut out = Map::new();
    let mut names: Vec<&String> = registry.messages.keys().collect();
    names.sort();
    for name in names {
        let descriptor = &registry.messages[name];
        let mut properties = Map::new();
        for field in &descriptor.field {
            let single = match field.r#type() {
                Type::Message | Type::Group => serde_json::json!({
                    "$ref": format!("#/components/schemas/{}", field.type_name().trim_start_matches('.'))
                }),
                Type::Enum => {
                    let values: Vec<Value> = registry
                        .enums
                        .get(field.type_name())
                        .map(|e| {
                            e.value
                                .iter()
                                .map(|v| Value::String(v.name().to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    serde_json::json!({"type": "string", "enum": values})
                }
                Type::Int64 | Type::Uint64 | Type::Sint64 | Type::Fixed64 | Type::Sfixed64 => {
                    serde_json::json!({"type": "string", "format": "int64"})
                }
                Type::Bytes => serde_json::json!({"type": "string", "format": "byte"}),
                Type::String => serde_json::json!({"type": "string"}),
                Type::Bool => serde_json::json!({"type": "boolean"}),
                Type::Double | Type::Float => serde_json::json!({"type": "number"}),
                _ => serde_json::json!({"type": "integer"}),
            };
            let schema = if field.label() == Label::Repeated {
                serde_json::json!({"type": "array", "items": single})
            } else if matches!(field.r#type(), Type::Message | Type::Group) {
                // An absent message renders as null (see the module docs);
                // OpenAPI 3.0 says so with `nullable` beside an `allOf`.
                serde_json::json!({"allOf": [single], "nullable": true})
            } else if field.proto3_optional() {
                // `optional` scalars render as null when unset.
                let mut single = single;
                if let Some(object) = single.as_object_mut() {
                    object.insert("nullable".into(), Value::Bool(true));
                }
                single
            } else {
                single
            };
            properties.insert(field.name().to_string(), schema);
        }
        out.insert(
            name.trim_start_matches('.').to_string(),
            serde_json::json!({"type": "object", "properties": properties}),
        );
    }
    out
}

/// Nesting beyond this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

fn decode_message(type_name: &str, mut bytes: &[u8], depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("message nested too deeply".into());
    }
    let registry = registry();
    let descriptor = registry
        .messages
        .get(type_name)
        .ok_or_else(|| format!("unknown message type {type_name}"))?;
    let mut object = Map::new();
    for field in &descriptor.field {
        object.insert(field.name().to_string(), default_value(registry, field));
    }
    while !bytes.is_empty() {
        let key = prost::encoding::decode_varint(&mut bytes).map_err(|e| e.to_string())?;
        let number = (key >> 3) as i32;
        let wire_type = key & 7;
        let raw = read_raw(&mut bytes, wire_type)?;
        let Some(field) = descriptor.field.iter().find(|f| f.number() == number) else {
            continue;
        };
        let repeated = field.label() == Label::Repeated;
        let values = match raw {
            Raw::Bytes(packed) if repeated && is_packable(field.r#type()) => unpack(field, packed)?,
            raw => vec![scalar(registry, field, raw, depth)?],
        };
        let name = field.name().to_string();
        if repeated {
            if let Some(Value::Array(items)) = object.get_mut(&name) {
                items.extend(values);
            }
        } else if let Some(value) = values.into_iter().last() {
            object.insert(name, value);
        }
    }
    Ok(Value::Object(object))
}

enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

fn read_raw<'a>(bytes: &mut &'a [u8], wire_type: u64) -> Result<Raw<'a>, String> {
    let take = |bytes: &mut &'a [u8], n: usize| -> Result<&'a [u8], String> {
        if bytes.len() < n {
            return Err("truncated message".into());
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Ok(head)
    };
    match wire_type {
        0 => prost::encoding::decode_varint(bytes)
            .map(Raw::Varint)
            .map_err(|e| e.to_string()),
        1 => {
            let b = take(bytes, 8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(Raw::Fixed64(u64::from_le_bytes(a)))
        }
        2 => {
            let len = prost::encoding::decode_varint(bytes).map_err(|e| e.to_string())?;
            let len = usize::try_from(len).map_err(|_| "length overflow".to_string())?;
            take(bytes, len).map(Raw::Bytes)
        }
        5 => {
            let b = take(bytes, 4)?;
            let mut a = [0u8; 4];
            a.copy_from_slice(b);
            Ok(Raw::Fixed32(u32::from_le_bytes(a)))
        }
        other => Err(format!("unsupported wire type {other}")),
    }
}

fn is_packable(t: Type) -> bool {
    !matches!(t, Type::String | Type::Bytes | Type::Message | Type::Group)
}

fn unpack(field: &FieldDescriptorProto, mut packed: &[u8]) -> Result<Vec<Value>, String> {
    let registry = registry();
    let wire_type = match field.r#type() {
        Type::Double | Type::Fixed64 | Type::Sfixed64 => 1,
        Type::Float | Type::Fixed32 | Type::Sfixed32 => 5,
        _ => 0,
    };
    let mut values = Vec::new();
    while !packed.is_empty() {
        let raw = read_raw(&mut packed, wire_type)?;
        values.push(scalar(registry, field, raw, 0)?);
    }
    Ok(values)
}

fn float(value: f64) -> Value {
    if value.is_nan() {
        Value::String("NaN".into())
    } else if value.is_infinite() {
        Value::String(if value > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn scalar(
    registry: &Registry,
    field: &FieldDescriptorProto,
    raw: Raw<'_>,
    depth: usize,
) -> Result<Value, String> {
    let mismatch = || format!("field {} has the wrong wire type", field.name());
    Ok(match (field.r#type(), raw) {
        (Type::Double, Raw::Fixed64(v)) => float(f64::from_bits(v)),
        // Through the shortest decimal of the f32, so 0.1f32 reads 0.1.
        (Type::Float, Raw::Fixed32(v)) => {
            let f = f32::from_bits(v);
            float(f.to_string().parse().unwrap_or(f as f64))
        }
        (Type::Int64, Raw::Varint(v)) => Value::String((v as i64).to_string()),
        (Type::Uint64, Raw::Varint(v)) => Value::String(v.to_string()),
        (Type::Sint64, Raw::Varint(v)) => {
            Value::String((((v >> 1) as i64) ^ -((v & 1) as i64)).to_string())
        }
        (Type::Int32, Raw::Varint(v)) => Value::from(v as i64 as i32),
        (Type::Uint32, Raw::Varint(v)) => Value::from(v as u32),
        (Type::Sint32, Raw::Varint(v)) => {
            let v = v as u32;
            Value::from(((v >> 1) as i32) ^ -((v & 1) as i32))
        }
        (Type::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
        (Type::Fixed64, Raw::Fixed64(v)) => Value::String(v.to_string()),
        (Type::Sfixed64, Raw::Fixed64(v)) => Value::String((v as i64).to_string()),
        (Type::Fixed32, Raw::Fixed32(v)) => Value::from(v),
        (Type::Sfixed32, Raw::Fixed32(v)) => Value::from(v as i32),
        (Type::Enum, Raw::Varint(v)) => {
            let number = v as i64 as i32;
            registry
                .enums
                .get(field.type_name())
                .and_then(|e| e.value.iter().find(|value| value.number() == number))
                .map(|value| Value::String(value.name().to_string()))
                .unwrap_or(Value::from(number))
        }
        (Type::String, Raw::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Type::Bytes, Raw::Bytes(b)) => Value::String(B64.encode(b)),
        (Type::Message, Raw::Bytes(b)) => decode_message(field.type_name(), b, depth + 1)?,
        _ => return Err(mismatch()),
    })
}

fn default_value(registry: &Registry, field: &FieldDescriptorProto) -> Value {
    if field.label() == Label::Repeated {
        return Value::Array(Vec::new());
    }
    if field.proto3_optional() {
        return Value::Null;
    }
    match field.r#type() {
        Type::Message | Type::Group => Value::Null,
        Type::String | Type::Bytes => Value::String(String::new()),
        Type::Bool => Value::Bool(false),
        Type::Int64 | Type::Uint64 | Type::Sint64 | Type::Fixed64 | Type::Sfixed64 => {
            Value::String("0".into())
        }
        Type::Enum => registry
            .enums
            .get(field.type_name())
            .and_then(|e| e.value.iter().find(|v| v.number() == 0))
            .map(|v| Value::String(v.name().to_string()))
            .unwrap_or(Value::from(0)),
        _ => Value::from(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use um_proto::um::training::v1::{ModelVersion, Update, UpdateStatus};

    #[test]
    fn messages_map_to_proto3_json() {
        let version = ModelVersion {
            model_id: "m".into(),
            version: 7,
            weights_sha256: vec![1, 2, 3],
            train_loss: 0.1,
            validation_loss: f32::NAN,
            accept_power: -5,
            update_ids: vec![3, 4],
            ..Default::default()
        };
        let json = to_json("um.training.v1.ModelVersion", &version.encode_to_vec()).unwrap();
        assert_eq!(json["model_id"], "m");
        assert_eq!(json["version"], "7");
        assert_eq!(json["parent_version"], "0", "defaults are present");
        assert_eq!(json["weights_sha256"], "AQID");
        assert_eq!(json["train_loss"], 0.1);
        assert_eq!(json["validation_loss"], "NaN");
        assert_eq!(json["accept_power"], "-5");
        assert_eq!(json["update_ids"], serde_json::json!(["3", "4"]));
        assert_eq!(json["trainer"], "");

        let update = Update {
            status: UpdateStatus::Accepted as i32,
            ..Default::default()
        };
        let json = to_json("um.training.v1.Update", &update.encode_to_vec()).unwrap();
        assert_eq!(json["status"], "UPDATE_STATUS_ACCEPTED");
        let empty = to_json("um.training.v1.Update", &[]).unwrap();
        assert_eq!(empty["status"], "UPDATE_STATUS_UNSPECIFIED");
    }

    #[test]
    fn garbage_and_unknown_types_are_errors() {
        assert!(to_json("um.training.v1.ModelVersion", &[0x0a, 0xff]).is_err());
        assert!(to_json("no.such.Type", &[]).is_err());
        assert!(knows("um.dataset.v1.Record"));
    }
}
