//! Receiving NRN opens the recipient's account, as a bank send does in the
//! Cosmos SDK: a new key can then look up its account number and sequence
//! (`cosmos.auth.v1beta1.Query/Account`) and sign its first tx with an
//! unmodified client such as CosmJS's `SigningCosmWasmClient`.

use super::account;
use crate::address;
use crate::codes::TxError;
use crate::context::{Event, GasMeter};
use crate::storage_gas::GAS_PER_STORED_BYTE;
use crate::store::StateView;

/// Bytes an account record takes before it has a public key (key, number,
/// sequence, address), which the tx that made the transfer pays for.
const NEW_ACCOUNT_BYTES: u64 = 100;

/// The token's event attributes that name who received NRN: `to` (cw20
/// transfer, send, mint, transfer_from and the chain's own moves) and
/// `recipient`.
const RECIPIENT_KEYS: [&str; 2] = ["to", "recipient"];

/// Opens an account for every account address that `events` show receiving
/// from `token` and has none; the tx's gas pays for each.
pub fn open_recipient_accounts(
    state: &mut StateView,
    gas: &mut GasMeter,
    token: &str,
    events: &[Event],
) -> Result<usize, TxError> {
    let mut opened = 0;
    for event in events.iter().filter(|event| is_from(event, token)) {
        for (key, value) in &event.attributes {
            if !RECIPIENT_KEYS.contains(&key.as_str()) {
                continue;
            }
            // Contract addresses (32 bytes) and anything that is not an
            // address of this chain are not accounts that sign.
            let Ok(bytes) = address::decode(value) else {
                continue;
            };
            if bytes.len() != 20 || account::load(state, &bytes)?.is_some() {
                continue;
            }
            gas.consume(
                NEW_ACCOUNT_BYTES.saturating_mul(GAS_PER_STORED_BYTE),
                "new account",
            )?;
            account::create(state, &bytes)?;
            opened += 1;
        }
    }
    Ok(opened)
}

fn is_from(event: &Event, token: &str) -> bool {
    event.kind == "wasm"
        && event
            .attributes
            .iter()
            .any(|(key, value)| key == "_contract_address" && value == token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_transfer_opens_the_recipient_account_once() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let recipient = address::encode(&[7u8; 20]);
        let contract = address::encode(&[9u8; 32]);
        let transfer = |token: &str, to: &str| {
            Event::new("wasm")
                .attr("_contract_address", token)
                .attr("action", "transfer")
                .attr("to", to)
        };
        let events = vec![
            transfer("um1token", &recipient),
            transfer("um1token", &contract),
            transfer("um1other", &address::encode(&[8u8; 20])),
        ];
        let mut gas = GasMeter::new(1_000_000);
        let opened = open_recipient_accounts(&mut state, &mut gas, "um1token", &events).unwrap();
        assert_eq!(opened, 1);
        assert_eq!(gas.used(), NEW_ACCOUNT_BYTES * GAS_PER_STORED_BYTE);
        let account = account::load(&state, &[7u8; 20]).unwrap().unwrap();
        assert_eq!(account.sequence, 0);
        // Only the token's events count, and only once.
        assert!(account::load(&state, &[8u8; 20]).unwrap().is_none());
        let again = open_recipient_accounts(&mut state, &mut gas, "um1token", &events).unwrap();
        assert_eq!(again, 0);
    }
}
