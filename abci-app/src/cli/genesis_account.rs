//! `umd genesis add-account`: the SDK's `add-genesis-account` for a chain
//! whose one token is the NRN cw20 contract.
//!
//! The account goes into `app_state.auth.accounts`. Its NRN goes into the
//! token's instantiate msg when `deploy-governance` already put the token
//! in the genesis; before that, into `app_state.auth.pending_balances`,
//! which `deploy-governance` empties into the token's initial balances. The
//! pending list lives in genesis.json rather than beside it so that it
//! travels with the file, and the chain refuses to start while it is not
//! empty, so a balance cannot be silently dropped.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use um_client::address::contract_address;

/// Decimals of NRN: 1 NRN = 10^6 unrn.
const NRN_DECIMALS: usize = 6;
const UNRN_PER_NRN: u128 = 1_000_000;

/// `umd genesis add-account`.
#[derive(clap::Args, Debug)]
pub struct AddAccountArgs {
    /// A `um1…` address, or the name of a key in this home's keyring.
    #[arg(value_name = "ADDRESS_OR_KEY")]
    pub who: String,
    /// Initial NRN balance, in NRN with up to 6 decimals (e.g. 12.5).
    #[arg(long, value_name = "AMOUNT", conflicts_with = "unrn")]
    pub nrn: Option<String>,
    /// Initial NRN balance in micro-NRN (unrn), a whole number.
    #[arg(long, value_name = "INTEGER")]
    pub unrn: Option<String>,
    #[command(flatten)]
    pub home: super::HomeArgs,
    // Only a key's address is read: no passphrase is asked.
    #[command(flatten)]
    pub keyring: super::KeyringArgs,
}

/// Where add-account put the balance.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// The token is in the genesis: its instantiate msg mints the balance.
    Token { token: String },
    /// Waiting in `app_state.auth.pending_balances` for deploy-governance.
    Pending,
}

/// What add-account did.
#[derive(Debug, PartialEq, Eq)]
pub struct Added {
    /// The account number InitChain gives it (genesis accounts are numbered
    /// in list order from 0).
    pub account_number: usize,
    pub balance: Option<(u128, Placement)>,
}

pub fn run(args: AddAccountArgs) -> anyhow::Result<()> {
    let amount = match (&args.nrn, &args.unrn) {
        (Some(nrn), _) => Some(parse_nrn(nrn).with_context(|| format!("--nrn {nrn:?}"))?),
        (None, Some(unrn)) => Some(parse_unrn(unrn).with_context(|| format!("--unrn {unrn:?}"))?),
        (None, None) => None,
    };
    // `um1…` or anything bech32 is meant as an address (a typo or a
    // `cosmos1…` is refused as one, not looked up as a key name); the
    // keyring is opened only for a key name.
    let address = if args.who.starts_with("um1") || bech32::decode(&args.who).is_ok() {
        um_client::address::decode(&args.who)
            .with_context(|| format!("{:?}: bad address", args.who))?;
        args.who.clone()
    } else {
        let keyring = super::keys::keyring(&args.home, &args.keyring)?;
        super::genesis::key_or_address(&keyring, &args.who)?
    };
    let path = args.home.path().join("config/genesis.json");
    let mut genesis = super::genesis::read_genesis(&path)?;
    let added = add_account(&mut genesis["app_state"], &address, amount)
        .with_context(|| format!("{} not added to {}", address, path.display()))?;
    std::fs::write(&path, serde_json::to_vec_pretty(&genesis)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "account: {address} (account number {})",
        added.account_number
    );
    match added.balance {
        Some((amount, Placement::Token { token })) => println!(
            "balance: {amount}unrn ({} NRN), in the initial balances of token {token}",
            format_nrn(amount)
        ),
        Some((amount, Placement::Pending)) => println!(
            "balance: {amount}unrn ({} NRN), pending: `umd genesis deploy-governance` mints it \
             (the chain does not start before)",
            format_nrn(amount)
        ),
        None => {}
    }
    Ok(())
}

/// A decimal NRN amount ("12.5") in unrn; above zero, at most 6 decimals.
pub fn parse_nrn(text: &str) -> anyhow::Result<u128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) {
        bail!("not an amount (NRN as a decimal number, e.g. 12.5)");
    }
    if fraction.len() > NRN_DECIMALS {
        bail!("more than {NRN_DECIMALS} decimals (the smallest unit is 0.000001 NRN)");
    }
    let too_large = || anyhow::anyhow!("too large an amount");
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let fraction: u128 = format!("{fraction:0<NRN_DECIMALS$}")
        .parse()
        .map_err(|_| too_large())?;
    let amount = whole
        .checked_mul(UNRN_PER_NRN)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(too_large)?;
    positive(amount)
}

/// A whole number of unrn, above zero.
pub fn parse_unrn(text: &str) -> anyhow::Result<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!("not an amount (a whole number of micro-NRN)");
    }
    positive(
        text.parse()
            .map_err(|_| anyhow::anyhow!("too large an amount"))?,
    )
}

fn positive(amount: u128) -> anyhow::Result<u128> {
    if amount == 0 {
        // A zero balance mints nothing; asking for it is a mistake.
        bail!("the amount must be above zero");
    }
    Ok(amount)
}

/// unrn as NRN, without trailing zeros: 12500000 → "12.5".
pub fn format_nrn(unrn: u128) -> String {
    let fraction = unrn % UNRN_PER_NRN;
    if fraction == 0 {
        return (unrn / UNRN_PER_NRN).to_string();
    }
    let fraction = format!("{fraction:0>NRN_DECIMALS$}");
    format!("{}.{}", unrn / UNRN_PER_NRN, fraction.trim_end_matches('0'))
}

/// Adds `address` to the genesis accounts of `app_state` and, with
/// `amount`, gives it that many unrn. Refuses an address that already is a
/// genesis account or already has a genesis balance; changes nothing when
/// it refuses.
pub fn add_account(
    app_state: &mut Value,
    address: &str,
    amount: Option<u128>,
) -> anyhow::Result<Added> {
    um_client::address::decode(address).with_context(|| format!("{address:?}: bad address"))?;
    if !app_state.is_object() {
        bail!("genesis app_state is not a JSON object");
    }
    if !matches!(app_state["auth"], Value::Null | Value::Object(_)) {
        bail!("app_state.auth is not a JSON object");
    }
    let accounts = genesis_accounts(app_state)?;
    if accounts.iter().any(|a| a == address) {
        bail!("{address} already is a genesis account");
    }
    let account_number = accounts.len();
    let balance = match amount {
        None => None,
        Some(amount) => Some((amount, add_balance(app_state, address, amount)?)),
    };
    push(&mut app_state["auth"], "accounts", json!(address))?;
    Ok(Added {
        account_number,
        balance,
    })
}

/// `app_state.auth.accounts` (empty when absent).
fn genesis_accounts(app_state: &Value) -> anyhow::Result<Vec<String>> {
    match &app_state["auth"]["accounts"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => list
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .with_context(|| format!("app_state.auth.accounts holds a non-address {a}"))
            })
            .collect(),
        other => bail!("app_state.auth.accounts is not a list: {other}"),
    }
}

fn add_balance(app_state: &mut Value, address: &str, amount: u128) -> anyhow::Result<Placement> {
    if let Some(held) = pending_balances(app_state)?
        .iter()
        .find(|(a, _)| a == address)
    {
        bail!(
            "{address} already has a pending genesis balance of {}unrn",
            held.1
        );
    }
    let Some(token) = registered_token(app_state)? else {
        push(
            &mut app_state["auth"],
            "pending_balances",
            json!({"address": address, "amount": amount.to_string()}),
        )?;
        return Ok(Placement::Pending);
    };
    let msg = token_instantiate_msg(app_state, &token)?;
    let held = token_balances(msg)?;
    if let Some((_, balance)) = held.iter().find(|(a, _)| a == address) {
        bail!("{address} already has a genesis balance of {balance}unrn in token {token}");
    }
    // The token refuses an initial supply above its cap at InitChain; the
    // operator learns it here instead of from a chain that does not start.
    if let Some(cap) = msg["mint"]["cap"].as_str() {
        let cap: u128 = cap
            .parse()
            .with_context(|| format!("token {token}: cap {cap:?} is not a number"))?;
        let supply = held
            .iter()
            .try_fold(amount, |sum, (_, b)| sum.checked_add(*b));
        if supply.is_none_or(|supply| supply > cap) {
            bail!(
                "{amount}unrn more would take the genesis supply of token {token} above its cap \
                 of {cap}unrn"
            );
        }
    }
    push(
        msg,
        "initial_balances",
        json!({"address": address, "amount": amount.to_string()}),
    )?;
    Ok(Placement::Token { token })
}

/// The NRN token the genesis registers (`app_state.gov.registry.token`),
/// if deploy-governance ran.
fn registered_token(app_state: &Value) -> anyhow::Result<Option<String>> {
    match &app_state["gov"]["registry"]["token"] {
        Value::Null => Ok(None),
        Value::String(token) => Ok(Some(token.clone())),
        other => bail!("app_state.gov.registry.token is not an address: {other}"),
    }
}

/// The instantiate msg of the genesis contract at `token`. Genesis
/// contracts get wasmd's classic addresses: the i-th (from 1) of the list,
/// of code `code_id`, is `contract_address(code_id, i)`.
fn token_instantiate_msg<'a>(
    app_state: &'a mut Value,
    token: &str,
) -> anyhow::Result<&'a mut Value> {
    // `get_mut`, not indexing: indexing would add the fields it misses.
    let contracts = app_state
        .get_mut("wasm")
        .and_then(|wasm| wasm.get_mut("contracts"))
        .and_then(Value::as_array_mut)
        .with_context(|| format!("genesis registers token {token} but has no wasm contracts"))?;
    for (index, contract) in contracts.iter_mut().enumerate() {
        let Some(code_id) = contract.get("code_id").and_then(Value::as_u64) else {
            continue;
        };
        if contract_address(code_id, index as u64 + 1) == token {
            return contract
                .get_mut("msg")
                .filter(|msg| msg.is_object())
                .with_context(|| {
                    format!("the genesis instantiate msg of token {token} is not a JSON object")
                });
        }
    }
    bail!("genesis registers token {token} but no genesis contract instantiates it")
}

/// A token instantiate msg's `initial_balances` as (address, unrn).
fn token_balances(msg: &Value) -> anyhow::Result<Vec<(String, u128)>> {
    balance_list(&msg["initial_balances"], "the token's initial_balances")
}

/// `app_state.auth.pending_balances` as (address, unrn).
pub fn pending_balances(app_state: &Value) -> anyhow::Result<Vec<(String, u128)>> {
    balance_list(
        &app_state["auth"]["pending_balances"],
        "app_state.auth.pending_balances",
    )
}

/// Empties `app_state.auth.pending_balances` and returns what it held:
/// deploy-governance mints these in the token it adds.
pub fn take_pending_balances(app_state: &mut Value) -> anyhow::Result<Vec<(String, u128)>> {
    let pending = pending_balances(app_state)?;
    if let Some(auth) = app_state.get_mut("auth").and_then(Value::as_object_mut) {
        auth.remove("pending_balances");
    }
    Ok(pending)
}

fn balance_list(list: &Value, what: &str) -> anyhow::Result<Vec<(String, u128)>> {
    let entries = match list {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        other => bail!("{what} is not a list: {other}"),
    };
    entries
        .iter()
        .map(|entry| {
            let address = entry["address"].as_str();
            let amount = entry["amount"].as_str().and_then(|a| a.parse().ok());
            match (address, amount) {
                (Some(address), Some(amount)) => Ok((address.to_string(), amount)),
                _ => bail!("{what} holds {entry}, not {{\"address\": …, \"amount\": \"…\"}}"),
            }
        })
        .collect()
}

/// Appends `item` to the list `object[field]`, making the object and the
/// list when absent.
fn push(object: &mut Value, field: &str, item: Value) -> anyhow::Result<()> {
    if object.is_null() {
        *object = json!({});
    }
    let Some(map) = object.as_object_mut() else {
        bail!("cannot add to {field}: its parent is not a JSON object");
    };
    match map.entry(field).or_insert_with(|| json!([])) {
        Value::Array(list) => list.push(item),
        Value::Null => map[field] = json!([item]),
        other => bail!("{field} is not a list: {other}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> String {
        um_client::address::encode(&[byte; 20])
    }

    /// An app_state as deploy-governance leaves it: a dataset contract
    /// first (so the token is not contract 1), then the token, registered.
    fn with_token(balances: &[(&str, u128)], cap: &str) -> (Value, String) {
        let token = contract_address(2, 2);
        let balances: Vec<Value> = balances
            .iter()
            .map(|(a, n)| json!({"address": a, "amount": n.to_string()}))
            .collect();
        let app_state = json!({
            "auth": {"params": {}, "accounts": [address(9)]},
            "wasm": {
                "codes": [{}, {}],
                "contracts": [
                    {"code_id": 1, "msg": {"initial_balances": []}},
                    {"code_id": 2, "msg": {"initial_balances": balances, "mint": {"cap": cap}}},
                ],
            },
            "gov": {"registry": {"token": token}},
        });
        (app_state, token)
    }

    #[test]
    fn nrn_amounts_parse_to_unrn() {
        assert_eq!(parse_nrn("12.5").unwrap(), 12_500_000);
        assert_eq!(parse_nrn("12").unwrap(), 12_000_000);
        assert_eq!(parse_nrn("0.000001").unwrap(), 1);
        assert_eq!(parse_nrn("007.100").unwrap(), 7_100_000);
        assert_eq!(parse_unrn("42").unwrap(), 42);
        for (bad, why) in [
            ("x", "not an amount"),
            ("", "not an amount"),
            ("1.", "not an amount"),
            (".5", "not an amount"),
            ("-1", "not an amount"),
            ("1e6", "not an amount"),
            ("1,5", "not an amount"),
            (" 1", "not an amount"),
            ("1.2.3", "not an amount"),
            ("1.0000001", "more than 6 decimals"),
            ("0", "above zero"),
            ("0.000000", "above zero"),
            ("999999999999999999999999999999999999999", "too large"),
        ] {
            let err = parse_nrn(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        for bad in ["1.5", "x", "", "-3"] {
            assert!(parse_unrn(bad)
                .unwrap_err()
                .to_string()
                .contains("not an amount"));
        }
        assert!(parse_unrn("0")
            .unwrap_err()
            .to_string()
            .contains("above zero"));
        assert_eq!(format_nrn(12_500_000), "12.5");
        assert_eq!(format_nrn(3_000_000), "3");
        assert_eq!(format_nrn(1), "0.000001");
    }

    #[test]
    fn before_the_token_the_balance_waits_in_auth() {
        // As `umd init` writes it: auth with params and no accounts.
        let mut app_state = json!({"auth": {"params": {"max_tx_gas": 1}, "accounts": []}});
        let added = add_account(&mut app_state, &address(1), Some(12_500_000)).unwrap();
        assert_eq!(added.account_number, 0);
        assert_eq!(added.balance, Some((12_500_000, Placement::Pending)));
        let added = add_account(&mut app_state, &address(2), None).unwrap();
        assert_eq!(added.account_number, 1);
        assert_eq!(added.balance, None);
        assert_eq!(
            app_state["auth"],
            json!({
                "params": {"max_tx_gas": 1},
                "accounts": [address(1), address(2)],
                "pending_balances": [{"address": address(1), "amount": "12500000"}],
            })
        );
        assert_eq!(
            take_pending_balances(&mut app_state).unwrap(),
            vec![(address(1), 12_500_000)]
        );
        assert!(app_state["auth"].get("pending_balances").is_none());
        assert!(take_pending_balances(&mut app_state).unwrap().is_empty());
    }

    #[test]
    fn an_empty_app_state_gets_an_auth_section() {
        let mut app_state = json!({});
        add_account(&mut app_state, &address(1), Some(5)).unwrap();
        assert_eq!(app_state["auth"]["accounts"], json!([address(1)]));
        assert_eq!(pending_balances(&app_state).unwrap(), vec![(address(1), 5)]);
    }

    #[test]
    fn after_the_token_the_balance_goes_into_its_instantiate_msg() {
        let (mut app_state, token) = with_token(&[(&address(7), 100)], "1000");
        let added = add_account(&mut app_state, &address(1), Some(900)).unwrap();
        // address(9) is already account 0.
        assert_eq!(added.account_number, 1);
        assert_eq!(
            added.balance,
            Some((
                900,
                Placement::Token {
                    token: token.clone()
                }
            ))
        );
        let msg = &app_state["wasm"]["contracts"][1]["msg"];
        assert_eq!(
            msg["initial_balances"],
            json!([
                {"address": address(7), "amount": "100"},
                {"address": address(1), "amount": "900"},
            ])
        );
        // The other contract is left alone, and nothing is pending.
        assert_eq!(
            app_state["wasm"]["contracts"][0]["msg"]["initial_balances"],
            json!([])
        );
        assert!(app_state["auth"].get("pending_balances").is_none());
        assert_eq!(
            app_state["auth"]["accounts"],
            json!([address(9), address(1)])
        );
    }

    #[test]
    fn duplicates_bad_addresses_and_the_cap_are_refused_without_a_change() {
        let (mut app_state, token) = with_token(&[(&address(7), 100)], "1000");
        let before = app_state.clone();
        let refused = |app_state: &mut Value, who: &str, amount| {
            add_account(app_state, who, amount).unwrap_err().to_string()
        };
        let err = refused(&mut app_state, &address(9), None);
        assert!(err.contains("already is a genesis account"), "{err}");
        let err = refused(&mut app_state, &address(7), Some(1));
        assert!(
            err.contains("already has a genesis balance of 100unrn") && err.contains(&token),
            "{err}"
        );
        let err = refused(&mut app_state, &address(1), Some(901));
        assert!(err.contains("above its cap of 1000unrn"), "{err}");
        let err = refused(&mut app_state, &address(1), Some(u128::MAX));
        assert!(err.contains("above its cap"), "{err}");
        for bad in [
            "um1notanaddress",
            "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a",
            "",
        ] {
            let err = refused(&mut app_state, bad, Some(1));
            assert!(err.contains("bad address"), "{bad:?}: {err}");
        }
        assert_eq!(app_state, before);

        // Pending balances are checked too.
        let mut app_state = json!({"auth": {"accounts": []}});
        add_account(&mut app_state, &address(1), Some(1)).unwrap();
        let pending = app_state.clone();
        let err = refused(&mut app_state, &address(1), Some(2));
        assert!(err.contains("already is a genesis account"), "{err}");
        app_state["auth"]["accounts"] = json!([]);
        let err = refused(&mut app_state, &address(1), Some(2));
        assert!(
            err.contains("already has a pending genesis balance"),
            "{err}"
        );
        app_state["auth"]["accounts"] = pending["auth"]["accounts"].clone();
        assert_eq!(app_state, pending);
    }

    #[test]
    fn a_broken_genesis_is_named() {
        let mut app_state = json!({"auth": {"accounts": "nope"}});
        let err = add_account(&mut app_state, &address(1), None).unwrap_err();
        assert!(err.to_string().contains("accounts is not a list"), "{err}");
        let mut app_state = json!({"gov": {"registry": {"token": address(3)}}});
        let err = add_account(&mut app_state, &address(1), Some(1)).unwrap_err();
        assert!(err.to_string().contains("no wasm contracts"), "{err}");
        let mut app_state =
            json!({"gov": {"registry": {"token": address(3)}}, "wasm": {"contracts": []}});
        let err = add_account(&mut app_state, &address(1), Some(1)).unwrap_err();
        assert!(
            err.to_string()
                .contains("no genesis contract instantiates it"),
            "{err}"
        );
        let mut app_state = json!({"auth": {"pending_balances": [{"address": "x"}]}});
        let err = add_account(&mut app_state, &address(1), Some(1)).unwrap_err();
        assert!(err.to_string().contains("pending_balances holds"), "{err}");
        assert!(add_account(&mut json!([]), &address(1), None).is_err());
    }
}
