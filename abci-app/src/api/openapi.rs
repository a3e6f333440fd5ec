//! The OpenAPI 3 document of the REST gateway, served at `/openapi.json`.
//! Built from [`ROUTES`], the list the router is built from, so every
//! documented path is served and every served path is documented; the
//! `um.*` schemas come from the same descriptors the JSON is rendered with.

use serde_json::{json, Map, Value};

use super::json;
use super::rest::ROUTES;

/// Path parameters that are unsigned integers (the rest are strings).
const NUMERIC: [&str; 4] = ["version", "update_id", "delta_id", "code_id"];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

/// Schemas of the Cosmos answers that are rendered by hand (their
/// descriptors are not in this build): objects, described by the route.
const COSMOS_SCHEMAS: [&str; 11] = [
    "QueryAccountResponse",
    "BroadcastTxRequest",
    "BroadcastTxResponse",
    "GetTxResponse",
    "SimulateRequest",
    "SimulateResponse",
    "QueryContractInfoResponse",
    "QuerySmartContractStateResponse",
    "QueryRawContractStateResponse",
    "QueryCodesResponse",
    "QueryCodeResponse",
];

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut parameters = Vec::new();
        for segment in route.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let schema = if NUMERIC.contains(&name) {
                    json!({"type": "string", "format": "uint64", "pattern": "^[0-9]+$"})
                } else {
                    json!({"type": "string"})
                };
                parameters.push(json!({
                    "name": name, "in": "path", "required": true, "schema": schema,
                }));
            }
        }
        for (name, kind, description) in route.query {
            parameters.push(json!({
                "name": name, "in": "query", "required": false,
                "description": description, "schema": {"type": kind},
            }));
        }
        let (request, response) = route.schemas;
        let content_schema = if response.is_empty() {
            json!({})
        } else {
            schema_ref(response)
        };
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {route.produces: {"schema": content_schema}},
                },
                "400": error_response("Malformed input (path, query or body)."),
                "404": error_response("Nothing with that id, or no such route."),
            },
        });
        if route.method == "post" {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema_ref(request)}},
            });
            operation["responses"]["413"] = error_response("The body is too large.");
        }
        if route.path.ends_with("/predict") {
            operation["requestBody"]["content"]["image/png"] =
                json!({"schema": {"type": "string", "format": "binary"}});
            operation["responses"]["429"] =
                error_response("The node is running as many predictions as it will.");
            operation["responses"]["503"] =
                error_response("The node has no predictor (um-trainer serve), or it failed.");
        }
        if route.path.starts_with("/cosmos/tx/") {
            operation["responses"]["503"] =
                error_response("The node's CometBFT RPC is unreachable.");
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    let mut schemas = json::schemas();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["code", "codespace", "message"],
            "properties": {
                "code": {"type": "integer", "description": "ABCI result code (um-client codes)"},
                "codespace": {"type": "string"},
                "message": {"type": "string"},
            },
        }),
    );
    schemas.insert("PredictBody".into(), predict_body_schema());
    for name in COSMOS_SCHEMAS {
        schemas.insert(
            name.into(),
            json!({"type": "object", "description": format!("cosmos/cosmwasm {name} in proto3 JSON (64-bit integers as strings, bytes as base64)")}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "umd REST gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cosmos-style REST routes of an Unstoppable Models node. Queries answer from the last committed state, exactly as ABCI Query and gRPC do. Errors are JSON {code, codespace, message}: 4xx for bad input, 404 for unknown ids.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// The JSON body of a prediction: exactly one input.
fn predict_body_schema() -> Value {
    json!({
        "type": "object",
        "description": "Exactly one of image, png (image lineages) or prompt (language lineages).",
        "additionalProperties": false,
        "properties": {
            "image": {
                "type": "array", "minItems": 784, "maxItems": 784,
                "description": "28x28 grayscale pixels, row-major, 0 the background and 255 full ink (as MNIST)",
                "items": {"type": "integer", "minimum": 0, "maximum": 255},
            },
            "png": {"type": "string", "format": "byte", "description": "a 28x28 PNG, base64"},
            "prompt": {"type": "string", "maxLength": 4096, "description": "text to continue"},
            "tokens": {"type": "integer", "minimum": 0, "maximum": 400, "description": "bytes to generate (0: 80)"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 10, "description": "softmax temperature (default 0.8)"},
            "seed": {"type": "integer", "minimum": 0, "description": "seed of the draws"},
        },
    })
}

/// The documented paths (for tests: they must be exactly the routes).
pub fn paths() -> Vec<String> {
    document()["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        let mut documented = paths();
        documented.sort();
        let mut routed: Vec<String> = ROUTES.iter().map(|r| r.path.to_string()).collect();
        routed.sort();
        routed.dedup();
        assert_eq!(documented, routed);
    }
}
