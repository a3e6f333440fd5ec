//! Events of the wasm module, named and shaped as wasmd's, so that indexers
//! and CosmJS (`logs` → `instantiate._contract_address`) work unchanged.

use cosmwasm_std_vm::{Attribute, Event as VmEvent};

use super::gas;
use crate::codes::{Code, TxError};
use crate::context::Event;

/// Attribute naming the contract that emitted an event.
pub const CONTRACT_ADDRESS: &str = "_contract_address";
/// Attribute keys with this prefix are reserved for the chain.
const RESERVED_PREFIX: char = '_';
/// Custom event types must be longer than this (after `wasm-`), as on wasmd.
const MIN_CUSTOM_EVENT_TYPE_LEN: usize = 2;

pub fn store_code(checksum_hex: &str, code_id: u64) -> Event {
    Event::new("store_code")
        .attr("code_checksum", checksum_hex)
        .attr("code_id", code_id.to_string())
}

pub fn instantiate(contract: &str, code_id: u64) -> Event {
    Event::new("instantiate")
        .attr(CONTRACT_ADDRESS, contract)
        .attr("code_id", code_id.to_string())
}

pub fn execute(contract: &str) -> Event {
    Event::new("execute").attr(CONTRACT_ADDRESS, contract)
}

pub fn migrate(contract: &str, code_id: u64) -> Event {
    Event::new("migrate")
        .attr(CONTRACT_ADDRESS, contract)
        .attr("code_id", code_id.to_string())
}

pub fn sudo(contract: &str) -> Event {
    Event::new("sudo").attr(CONTRACT_ADDRESS, contract)
}

pub fn reply(contract: &str) -> Event {
    Event::new("reply").attr(CONTRACT_ADDRESS, contract)
}

/// `new_admin` is empty when the admin was cleared.
pub fn update_admin(contract: &str, new_admin: &str) -> Event {
    Event::new("update_contract_admin")
        .attr(CONTRACT_ADDRESS, contract)
        .attr("new_admin_address", new_admin)
}

/// What a contract's response emits: its attributes as a `wasm` event and its
/// custom events as `wasm-<type>`, each led by `_contract_address`; plus the
/// SDK gas these cost.
pub fn from_response(
    contract: &str,
    attributes: &[Attribute],
    custom: &[VmEvent],
) -> Result<(Vec<Event>, u64), TxError> {
    let mut events = Vec::with_capacity(1 + custom.len());
    let mut attribute_bytes = 0usize;
    if !attributes.is_empty() {
        events.push(contract_event(
            "wasm".to_string(),
            contract,
            attributes,
            &mut attribute_bytes,
        )?);
    }
    for event in custom {
        let kind = event.ty.trim();
        if kind.len() <= MIN_CUSTOM_EVENT_TYPE_LEN {
            return Err(invalid(format!("event type too short: '{kind}'")));
        }
        events.push(contract_event(
            format!("wasm-{kind}"),
            contract,
            &event.attributes,
            &mut attribute_bytes,
        )?);
    }
    Ok((events, gas::event_cost(custom.len(), attribute_bytes)))
}

fn contract_event(
    kind: String,
    contract: &str,
    attributes: &[Attribute],
    attribute_bytes: &mut usize,
) -> Result<Event, TxError> {
    let mut event = Event::new(kind).attr(CONTRACT_ADDRESS, contract);
    for attribute in attributes {
        let key = attribute.key.trim();
        let value = attribute.value.trim();
        if key.is_empty() {
            return Err(invalid(format!(
                "empty event attribute key (value: '{value}')"
            )));
        }
        if key.starts_with(RESERVED_PREFIX) {
            return Err(invalid(format!("event attribute key '{key}' is reserved")));
        }
        *attribute_bytes = attribute_bytes.saturating_add(key.len() + value.len());
        event = event.attr(key, value);
    }
    Ok(event)
}

fn invalid(message: String) -> TxError {
    TxError::new(
        Code::ContractError,
        format!("invalid event from contract: {message}"),
    )
}

/// Our events in the form a `reply` entry point receives them.
///
/// Attributes are built as struct literals: `Attribute::new` panics on the
/// reserved `_` keys that every contract event carries.
pub fn to_vm(events: &[Event]) -> Vec<VmEvent> {
    events
        .iter()
        .map(|event| {
            VmEvent::new(event.kind.clone()).add_attributes(event.attributes.iter().map(
                |(key, value)| Attribute {
                    key: key.clone(),
                    value: value.clone(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_events_are_prefixed_and_validated() {
        let attrs = vec![Attribute::new(" action ", "transfer")];
        let custom = vec![VmEvent::new("hit").add_attribute("k", "v")];
        let (events, cost) = from_response("um1c", &attrs, &custom).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, "wasm");
        assert_eq!(
            events[0].attributes,
            vec![
                (CONTRACT_ADDRESS.to_string(), "um1c".to_string()),
                ("action".to_string(), "transfer".to_string())
            ]
        );
        assert_eq!(events[1].kind, "wasm-hit");
        assert_eq!(events[1].attributes[0].0, CONTRACT_ADDRESS);
        assert_eq!(cost, gas::CUSTOM_EVENT_COST);

        let (none, cost) = from_response("um1c", &[], &[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(cost, 0);

        let reserved = vec![Attribute {
            key: "_contract_address".to_string(),
            value: "fake".to_string(),
        }];
        assert_eq!(
            from_response("um1c", &reserved, &[]).unwrap_err().code,
            Code::ContractError
        );
        let short = vec![VmEvent::new("ab")];
        assert!(from_response("um1c", &[], &short).is_err());
        let empty_key = vec![Attribute::new(" ", "x")];
        assert!(from_response("um1c", &empty_key, &[]).is_err());
    }

    #[test]
    fn events_convert_for_replies() {
        let vm = to_vm(&[execute("um1c")]);
        assert_eq!(vm[0].ty, "execute");
        assert_eq!(vm[0].attributes[0].key, CONTRACT_ADDRESS);
        assert_eq!(vm[0].attributes[0].value, "um1c");
    }
}
