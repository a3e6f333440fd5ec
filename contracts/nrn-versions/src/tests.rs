//! nrn-versions next to the real NRN token in a cw-multi-test chain.

use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
use cosmwasm_std::{
    coins, from_json, to_json_binary, to_json_string, Addr, Binary, CosmosMsg, Uint128, WasmMsg,
};
use cw20::{BalanceResponse, Cw20ExecuteMsg, Cw20QueryMsg};
use cw721::msg::{
    CollectionInfoAndExtensionResponse, MinterResponse, NftInfoResponse, NumTokensResponse,
    OwnerOfResponse, TokensResponse,
};
use cw721::state::Trait;
use cw721::{
    DefaultOptionalCollectionExtension, DefaultOptionalNftExtension, Expiration, NftExtension,
    Ownership,
};
use cw_multi_test::error::{AnyError, AnyResult};
use cw_multi_test::{App, AppResponse, ContractWrapper, Executor};
use nrn_token::msg::{nrn_instantiate_msg, Cw20Coin};
use um_bindings::migrate::MigrateError;
use um_bindings::versions::{MAX_ROYALTY_LAST_VERSIONS, MAX_VERSION_OWNERS};

use crate::contract::{self, CONTRACT_NAME, CONTRACT_VERSION};
use crate::msg::{
    ConfigResponse, Cw721Execute, Cw721Query, EarnedResponse, ExecuteMsg, InstantiateMsg,
    MigrateMsg, QueryMsg, ReceiveMsg, Share, SudoMsg, TipRecord, TipSharesResponse, TippedResponse,
    TipsResponse, VersionMint, VersionTokens, VersionTokensResponse,
};
use crate::ContractError;

const PAYER_FUNDS: u128 = 10_000_000;

struct Setup {
    app: App,
    token: Addr,
    token_code: u64,
    versions: Addr,
    payer: Addr,
    alice: Addr,
    bob: Addr,
    carol: Addr,
    dave: Addr,
}

fn addr(app: &App, name: &str) -> Addr {
    app.api().addr_make(name)
}

fn token_code(app: &mut App) -> u64 {
    app.store_code(Box::new(
        ContractWrapper::new(
            nrn_token::contract::execute,
            nrn_token::contract::instantiate,
            nrn_token::contract::query,
        )
        .with_sudo(nrn_token::contract::sudo),
    ))
}

fn new_token(app: &mut App, code: u64, holders: &[(&Addr, u128)], label: &str) -> Addr {
    let admin = addr(app, "admin");
    let balances = holders
        .iter()
        .map(|(a, amount)| Cw20Coin {
            address: a.to_string(),
            amount: Uint128::new(*amount),
        })
        .collect();
    app.instantiate_contract(
        code,
        admin,
        &nrn_instantiate_msg(balances, None),
        &[],
        label,
        None,
    )
    .unwrap()
}

fn versions_code(app: &mut App) -> u64 {
    app.store_code(Box::new(
        ContractWrapper::new(contract::execute, contract::instantiate, contract::query)
            .with_sudo(contract::sudo)
            .with_migrate(contract::migrate),
    ))
}

fn setup_with_rule(last_versions: u32) -> Setup {
    let mut app = App::default();
    let payer = addr(&app, "payer");
    let code = token_code(&mut app);
    let token = new_token(&mut app, code, &[(&payer, PAYER_FUNDS)], "nrn");
    let versions_code = versions_code(&mut app);
    let chain = addr(&app, "chain");
    let versions = app
        .instantiate_contract(
            versions_code,
            chain.clone(),
            &InstantiateMsg {
                name: "Unstoppable Models versions".to_string(),
                symbol: "UMV".to_string(),
                token: token.to_string(),
                royalty_last_versions: last_versions,
            },
            &[],
            "versions",
            Some(chain.to_string()),
        )
        .unwrap();
    Setup {
        alice: addr(&app, "alice"),
        bob: addr(&app, "bob"),
        carol: addr(&app, "carol"),
        dave: addr(&app, "dave"),
        app,
        token,
        token_code: code,
        versions,
        payer,
    }
}

fn setup() -> Setup {
    setup_with_rule(2)
}

fn version_mint(model_id: &str, version: u64, owners: &[&Addr]) -> VersionMint {
    VersionMint {
        model_id: model_id.to_string(),
        version,
        owners: owners.iter().map(|o| o.to_string()).collect(),
        weights_sha256: format!("{:064x}", version),
        validation_loss: format!("0.{version}25"),
        validation_accuracy: format!("0.9{version}"),
        height: 100 + version,
        dataset_version: 3,
    }
}

fn mint(s: &mut Setup, model_id: &str, version: u64, owners: &[&Addr]) -> AnyResult<AppResponse> {
    let versions = s.versions.clone();
    s.app.wasm_sudo(
        versions,
        &SudoMsg::MintVersion(version_mint(model_id, version, owners)),
    )
}

fn contract_err(err: AnyError) -> ContractError {
    match err.downcast::<ContractError>() {
        Ok(err) => err,
        Err(err) => panic!("not a ContractError: {err:?}"),
    }
}

/// The values of `key` in the versions contract's own wasm events.
fn wasm_attr<'a>(s: &Setup, res: &'a AppResponse, key: &str) -> Vec<&'a str> {
    res.events
        .iter()
        .filter(|e| {
            e.ty == "wasm"
                && e.attributes
                    .iter()
                    .any(|a| a.key == "_contract_address" && a.value == s.versions.as_str())
        })
        .flat_map(|e| e.attributes.iter())
        .filter(|a| a.key == key)
        .map(|a| a.value.as_str())
        .collect()
}

fn q<T: cosmwasm_schema::serde::de::DeserializeOwned>(s: &Setup, msg: &QueryMsg) -> T {
    s.app.wrap().query_wasm_smart(&s.versions, msg).unwrap()
}

fn exec(s: &mut Setup, sender: &Addr, msg: &ExecuteMsg) -> AnyResult<AppResponse> {
    let versions = s.versions.clone();
    s.app.execute_contract(sender.clone(), versions, msg, &[])
}

fn owner_of(s: &Setup, token_id: &str) -> String {
    q::<OwnerOfResponse>(
        s,
        &QueryMsg::OwnerOf {
            token_id: token_id.to_string(),
            include_expired: None,
        },
    )
    .owner
}

fn nft_info(s: &Setup, token_id: &str) -> NftInfoResponse<DefaultOptionalNftExtension> {
    q(
        s,
        &QueryMsg::NftInfo {
            token_id: token_id.to_string(),
        },
    )
}

fn tokens_of(s: &Setup, owner: &Addr) -> Vec<String> {
    q::<TokensResponse>(
        s,
        &QueryMsg::Tokens {
            owner: owner.to_string(),
            start_after: None,
            limit: None,
        },
    )
    .tokens
}

fn all_tokens(s: &Setup) -> Vec<String> {
    q::<TokensResponse>(
        s,
        &QueryMsg::AllTokens {
            start_after: None,
            limit: Some(100),
        },
    )
    .tokens
}

fn num_tokens(s: &Setup) -> u64 {
    q::<NumTokensResponse>(s, &QueryMsg::NumTokens {}).count
}

fn balance(s: &Setup, token: &Addr, who: &Addr) -> u128 {
    let res: BalanceResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            token,
            &Cw20QueryMsg::Balance {
                address: who.to_string(),
            },
        )
        .unwrap();
    res.balance.u128()
}

fn tip_with(s: &mut Setup, token: &Addr, model_id: &str, amount: u128) -> AnyResult<AppResponse> {
    let payer = s.payer.clone();
    let versions = s.versions.clone();
    s.app.execute_contract(
        payer,
        token.clone(),
        &Cw20ExecuteMsg::Send {
            contract: versions.to_string(),
            amount: Uint128::new(amount),
            msg: to_json_binary(&ReceiveMsg::Tip {
                model_id: model_id.to_string(),
            })
            .unwrap(),
        },
        &[],
    )
}

fn tip(s: &mut Setup, model_id: &str, amount: u128) -> AnyResult<AppResponse> {
    let token = s.token.clone();
    tip_with(s, &token, model_id, amount)
}

fn tip_shares(s: &Setup, model_id: &str, amount: u128) -> Vec<Share> {
    q::<TipSharesResponse>(
        s,
        &QueryMsg::TipShares {
            model_id: model_id.to_string(),
            amount: Uint128::new(amount),
        },
    )
    .shares
}

fn earned(s: &Setup, who: &Addr) -> u128 {
    q::<EarnedResponse>(
        s,
        &QueryMsg::Earned {
            address: who.to_string(),
        },
    )
    .amount
    .u128()
}

fn share(address: &Addr, amount: u128) -> Share {
    Share {
        address: address.clone(),
        amount: Uint128::new(amount),
    }
}

/// The shares ordered by address, as the contract orders them.
fn sorted(mut shares: Vec<Share>) -> Vec<Share> {
    shares.sort_by(|a, b| a.address.cmp(&b.address));
    shares
}

fn expected_metadata(
    mint: &VersionMint,
    contribution: Option<(usize, usize)>,
) -> DefaultOptionalNftExtension {
    let t = |trait_type: &str, value: String| Trait {
        display_type: None,
        trait_type: trait_type.to_string(),
        value,
    };
    let mut attributes = vec![
        t("model_id", mint.model_id.clone()),
        t("version", mint.version.to_string()),
        t("weights_sha256", mint.weights_sha256.clone()),
        t("validation_loss", mint.validation_loss.clone()),
        t("validation_accuracy", mint.validation_accuracy.clone()),
        t("height", mint.height.to_string()),
        t("dataset_version", mint.dataset_version.to_string()),
    ];
    let (name, description) = match contribution {
        Some((n, of)) => {
            attributes.push(t("contribution", format!("{n}/{of}")));
            (
                format!("{} v{} #{n}", mint.model_id, mint.version),
                format!(
                    "Contribution {n} of {of} to version {} of the {} lineage, accepted by the chain at height {}.",
                    mint.version, mint.model_id, mint.height
                ),
            )
        }
        None => (
            format!("{} v{}", mint.model_id, mint.version),
            format!(
                "Version {} of the {} lineage, accepted by the chain at height {}.",
                mint.version, mint.model_id, mint.height
            ),
        ),
    };
    Some(NftExtension {
        name: Some(name),
        description: Some(description),
        attributes: Some(attributes),
        ..NftExtension::default()
    })
}

#[test]
fn the_chain_mints_a_single_owner_version_and_a_round() {
    let mut s = setup();
    let (alice, bob, carol, dave) = (
        s.alice.clone(),
        s.bob.clone(),
        s.carol.clone(),
        s.dave.clone(),
    );

    let res = mint(&mut s, "mnist", 1, &[&alice]).unwrap();
    assert_eq!(wasm_attr(&s, &res, "action"), vec!["mint_version"]);
    assert_eq!(wasm_attr(&s, &res, "model_id"), vec!["mnist"]);
    assert_eq!(wasm_attr(&s, &res, "version"), vec!["1"]);
    assert_eq!(wasm_attr(&s, &res, "token_ids"), vec!["mnist.v1"]);
    assert_eq!(owner_of(&s, "mnist.v1"), alice.to_string());
    let info = nft_info(&s, "mnist.v1");
    assert_eq!(info.token_uri, None);
    assert_eq!(
        info.extension,
        expected_metadata(&version_mint("mnist", 1, &[&alice]), None)
    );

    // A round of three contributors: one token each, in contribution order.
    let res = mint(&mut s, "mnist", 2, &[&bob, &carol, &dave]).unwrap();
    assert_eq!(
        wasm_attr(&s, &res, "token_ids"),
        vec!["mnist.v2.1,mnist.v2.2,mnist.v2.3"]
    );
    let round = version_mint("mnist", 2, &[&bob, &carol, &dave]);
    for (i, owner) in [&bob, &carol, &dave].into_iter().enumerate() {
        let id = format!("mnist.v2.{}", i + 1);
        assert_eq!(owner_of(&s, &id), owner.to_string());
        assert_eq!(
            nft_info(&s, &id).extension,
            expected_metadata(&round, Some((i + 1, 3)))
        );
        assert_eq!(tokens_of(&s, owner), vec![id]);
    }
    assert_eq!(tokens_of(&s, &alice), vec!["mnist.v1"]);
    assert_eq!(num_tokens(&s), 4);
    assert_eq!(
        all_tokens(&s),
        vec!["mnist.v1", "mnist.v2.1", "mnist.v2.2", "mnist.v2.3"]
    );
    let versions: VersionTokensResponse = q(
        &s,
        &QueryMsg::VersionTokens {
            model_id: "mnist".to_string(),
            start_after: None,
            limit: None,
        },
    );
    assert_eq!(
        versions.versions,
        vec![
            VersionTokens {
                version: 1,
                token_ids: vec!["mnist.v1".to_string()],
            },
            VersionTokens {
                version: 2,
                token_ids: vec![
                    "mnist.v2.1".to_string(),
                    "mnist.v2.2".to_string(),
                    "mnist.v2.3".to_string()
                ],
            },
        ]
    );
    // all_nft_info: the same metadata and the owner.
    let all: cw721::msg::AllNftInfoResponse<DefaultOptionalNftExtension> = q(
        &s,
        &QueryMsg::AllNftInfo {
            token_id: "mnist.v2.2".to_string(),
            include_expired: None,
        },
    );
    assert_eq!(all.access.owner, carol.to_string());
    assert_eq!(all.info.extension, expected_metadata(&round, Some((2, 3))));
    // The collection as instantiated.
    let collection: CollectionInfoAndExtensionResponse<DefaultOptionalCollectionExtension> =
        q(&s, &QueryMsg::GetCollectionInfoAndExtension {});
    assert_eq!(collection.name, "Unstoppable Models versions");
    assert_eq!(collection.symbol, "UMV");
    let legacy: CollectionInfoAndExtensionResponse<DefaultOptionalCollectionExtension> =
        q(&s, &QueryMsg::ContractInfo {});
    assert_eq!(legacy, collection);
}

#[test]
fn refused_mints_change_nothing() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    mint(&mut s, "mnist", 1, &[&alice]).unwrap();

    // The same version again, even to other owners.
    let err = contract_err(mint(&mut s, "mnist", 1, &[&bob]).unwrap_err());
    assert_eq!(
        err,
        ContractError::VersionExists {
            model_id: "mnist".to_string(),
            version: 1,
        }
    );
    // No owner, or more than a round has.
    let err = contract_err(mint(&mut s, "mnist", 2, &[]).unwrap_err());
    assert!(matches!(err, ContractError::InvalidMint { .. }), "{err:?}");
    let many: Vec<Addr> = (0..=MAX_VERSION_OWNERS)
        .map(|i| addr(&s.app, &format!("owner{i}")))
        .collect();
    let refs: Vec<&Addr> = many.iter().collect();
    let err = contract_err(mint(&mut s, "mnist", 2, &refs).unwrap_err());
    assert!(
        matches!(&err, ContractError::InvalidMint { reason } if reason.contains("at most 16")),
        "{err:?}"
    );
    // The most a round has is fine.
    mint(&mut s, "big", 1, &refs[..MAX_VERSION_OWNERS as usize]).unwrap();
    assert_eq!(num_tokens(&s), 1 + u64::from(MAX_VERSION_OWNERS));
    // An owner that is not an address.
    let mut bad = version_mint("mnist", 2, &[&alice]);
    bad.owners.push("not-an-address".to_string());
    let versions = s.versions.clone();
    let err = contract_err(
        s.app
            .wasm_sudo(versions.clone(), &SudoMsg::MintVersion(bad))
            .unwrap_err(),
    );
    assert!(
        matches!(&err, ContractError::InvalidMint { reason } if reason.contains("not-an-address")),
        "{err:?}"
    );
    // A model id the chain would never use (a dot would make token ids ambiguous).
    let err = contract_err(mint(&mut s, "mnist.v2", 1, &[&alice]).unwrap_err());
    assert!(matches!(err, ContractError::InvalidMint { .. }), "{err:?}");
    // An empty record field.
    let mut bad = version_mint("mnist", 2, &[&alice]);
    bad.validation_loss = String::new();
    let err = contract_err(
        s.app
            .wasm_sudo(versions, &SudoMsg::MintVersion(bad))
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::InvalidMint { .. }), "{err:?}");

    assert_eq!(num_tokens(&s), 1 + u64::from(MAX_VERSION_OWNERS));
    assert_eq!(owner_of(&s, "mnist.v1"), alice.to_string());
    assert!(tokens_of(&s, &bob).is_empty());
    let versions: VersionTokensResponse = q(
        &s,
        &QueryMsg::VersionTokens {
            model_id: "mnist".to_string(),
            start_after: None,
            limit: None,
        },
    );
    assert_eq!(versions.versions.len(), 1);
}

#[test]
fn accounts_cannot_mint_burn_or_take_over_the_collection() {
    let mut s = setup();
    let alice = s.alice.clone();
    mint(&mut s, "mnist", 1, &[&alice]).unwrap();
    let versions = s.versions.clone();

    // The minter and the creator are the contract itself.
    let minter: Ownership<Addr> = q(&s, &QueryMsg::GetMinterOwnership {});
    assert_eq!(minter.owner, Some(versions.clone()));
    assert_eq!(minter.pending_owner, None);
    let creator: Ownership<Addr> = q(&s, &QueryMsg::GetCreatorOwnership {});
    assert_eq!(creator.owner, Some(versions.clone()));
    let legacy: MinterResponse = q(&s, &QueryMsg::Minter {});
    assert_eq!(legacy.minter, Some(versions.to_string()));

    // `mint` as raw JSON, as a cw721 client would send it.
    let raw_mint = format!(
        r#"{{"mint":{{"token_id":"mnist.v9","owner":"{alice}","token_uri":null,"extension":null}}}}"#
    );
    let err = s
        .app
        .execute(
            alice.clone(),
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr: versions.to_string(),
                msg: Binary::from(raw_mint.into_bytes()),
                funds: vec![],
            }),
        )
        .unwrap_err();
    assert!(format!("{err:?}").contains("unknown variant"), "{err:?}");

    // Burn by the token's own owner, and the other admin messages of cw721.
    let refused: Vec<Cw721Execute> = vec![
        Cw721Execute::Burn {
            token_id: "mnist.v1".to_string(),
        },
        Cw721Execute::UpdateMinterOwnership(cw721::Action::TransferOwnership {
            new_owner: alice.to_string(),
            expiry: None,
        }),
        Cw721Execute::UpdateCreatorOwnership(cw721::Action::RenounceOwnership),
        Cw721Execute::AddMinter {
            minter: alice.to_string(),
        },
        Cw721Execute::UpdateNftInfo {
            token_id: "mnist.v1".to_string(),
            token_uri: Some("https://example.com".to_string()),
            extension: None,
        },
        Cw721Execute::WithdrawFunds {
            amount: cosmwasm_std::coin(1, "unrn"),
        },
    ];
    for msg in refused {
        let err = s
            .app
            .execute_contract(alice.clone(), versions.clone(), &msg, &[])
            .unwrap_err();
        assert!(
            format!("{err:?}").contains("unknown variant"),
            "{msg:?}: {err:?}"
        );
    }

    assert_eq!(num_tokens(&s), 1);
    assert_eq!(all_tokens(&s), vec!["mnist.v1"]);
    assert_eq!(owner_of(&s, "mnist.v1"), alice.to_string());
    let minter: Ownership<Addr> = q(&s, &QueryMsg::GetMinterOwnership {});
    assert_eq!(minter.owner, Some(versions));
    assert_eq!(minter.pending_owner, None);
    let err = s
        .app
        .wrap()
        .query_wasm_smart::<OwnerOfResponse>(
            &s.versions,
            &QueryMsg::OwnerOf {
                token_id: "mnist.v9".to_string(),
                include_expired: None,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn holders_transfer_and_approve_with_the_standard_messages() {
    let mut s = setup();
    let (alice, bob, carol, dave) = (
        s.alice.clone(),
        s.bob.clone(),
        s.carol.clone(),
        s.dave.clone(),
    );
    mint(&mut s, "mnist", 1, &[&alice]).unwrap();
    let transfer = |to: &Addr| ExecuteMsg::TransferNft {
        recipient: to.to_string(),
        token_id: "mnist.v1".to_string(),
    };

    // A stranger cannot move it.
    let err = contract_err(exec(&mut s, &bob, &transfer(&bob)).unwrap_err());
    assert!(matches!(err, ContractError::Cw721(_)), "{err:?}");
    assert_eq!(owner_of(&s, "mnist.v1"), alice.to_string());

    // The owner can.
    let res = exec(&mut s, &alice, &transfer(&bob)).unwrap();
    assert_eq!(wasm_attr(&s, &res, "action"), vec!["transfer_nft"]);
    assert_eq!(owner_of(&s, "mnist.v1"), bob.to_string());
    assert_eq!(tokens_of(&s, &bob), vec!["mnist.v1"]);
    assert!(tokens_of(&s, &alice).is_empty());

    // An approved spender can, once.
    exec(
        &mut s,
        &bob,
        &ExecuteMsg::Approve {
            spender: carol.to_string(),
            token_id: "mnist.v1".to_string(),
            expires: None,
        },
    )
    .unwrap();
    let approvals: cw721::msg::ApprovalsResponse = q(
        &s,
        &QueryMsg::Approvals {
            token_id: "mnist.v1".to_string(),
            include_expired: None,
        },
    );
    assert_eq!(approvals.approvals.len(), 1);
    assert_eq!(approvals.approvals[0].spender, carol);
    exec(&mut s, &carol, &transfer(&dave)).unwrap();
    assert_eq!(owner_of(&s, "mnist.v1"), dave.to_string());
    // The approval went with the transfer.
    let err = contract_err(exec(&mut s, &carol, &transfer(&carol)).unwrap_err());
    assert!(matches!(err, ContractError::Cw721(_)), "{err:?}");

    // A revoked approval is gone.
    exec(
        &mut s,
        &dave,
        &ExecuteMsg::Approve {
            spender: alice.to_string(),
            token_id: "mnist.v1".to_string(),
            expires: Some(Expiration::Never {}),
        },
    )
    .unwrap();
    exec(
        &mut s,
        &dave,
        &ExecuteMsg::Revoke {
            spender: alice.to_string(),
            token_id: "mnist.v1".to_string(),
        },
    )
    .unwrap();
    assert!(exec(&mut s, &alice, &transfer(&alice)).is_err());

    // An operator moves every token of the owner, until revoked.
    exec(
        &mut s,
        &dave,
        &ExecuteMsg::ApproveAll {
            operator: bob.to_string(),
            expires: None,
        },
    )
    .unwrap();
    let operators: cw721::msg::OperatorsResponse = q(
        &s,
        &QueryMsg::AllOperators {
            owner: dave.to_string(),
            include_expired: None,
            start_after: None,
            limit: None,
        },
    );
    assert_eq!(operators.operators.len(), 1);
    exec(&mut s, &bob, &transfer(&carol)).unwrap();
    assert_eq!(owner_of(&s, "mnist.v1"), carol.to_string());
    exec(
        &mut s,
        &dave,
        &ExecuteMsg::RevokeAll {
            operator: bob.to_string(),
        },
    )
    .unwrap();

    // Native funds are refused: the contract holds none.
    let versions = s.versions.clone();
    s.app
        .sudo(cw_multi_test::SudoMsg::Bank(
            cw_multi_test::BankSudo::Mint {
                to_address: carol.to_string(),
                amount: coins(10, "unrn"),
            },
        ))
        .unwrap();
    let err = s
        .app
        .execute_contract(
            carol.clone(),
            versions,
            &transfer(&alice),
            &coins(10, "unrn"),
        )
        .unwrap_err();
    assert!(matches!(contract_err(err), ContractError::Payment(_)));
    assert_eq!(owner_of(&s, "mnist.v1"), carol.to_string());
}

/// v1 (alice), v2 (bob, carol: a round of two), v3 (alice).
fn three_versions(s: &mut Setup) {
    let (alice, bob, carol) = (s.alice.clone(), s.bob.clone(), s.carol.clone());
    mint(s, "m", 1, &[&alice]).unwrap();
    mint(s, "m", 2, &[&bob, &carol]).unwrap();
    mint(s, "m", 3, &[&alice]).unwrap();
}

#[test]
fn a_tip_is_shared_over_the_last_versions_and_follows_the_holders() {
    let mut s = setup();
    three_versions(&mut s);
    let (alice, bob, carol, dave, payer) = (
        s.alice.clone(),
        s.bob.clone(),
        s.carol.clone(),
        s.dave.clone(),
        s.payer.clone(),
    );
    let token = s.token.clone();

    // Rule 2: v3 and v2 get 500 each; v2's part is split between its two tokens.
    let expected = sorted(vec![
        share(&alice, 500),
        share(&bob, 250),
        share(&carol, 250),
    ]);
    let preview = tip_shares(&s, "m", 1000);
    assert_eq!(preview, expected);

    let res = tip(&mut s, "m", 1000).unwrap();
    assert_eq!(wasm_attr(&s, &res, "action"), vec!["tip"]);
    assert_eq!(wasm_attr(&s, &res, "model_id"), vec!["m"]);
    assert_eq!(wasm_attr(&s, &res, "payer"), vec![payer.as_str()]);
    assert_eq!(wasm_attr(&s, &res, "amount"), vec!["1000"]);
    let royalties: Vec<String> = expected
        .iter()
        .map(|sh| format!("{}:{}", sh.address, sh.amount))
        .collect();
    assert_eq!(wasm_attr(&s, &res, "royalty"), royalties);

    assert_eq!(balance(&s, &token, &alice), 500);
    assert_eq!(balance(&s, &token, &bob), 250);
    assert_eq!(balance(&s, &token, &carol), 250);
    assert_eq!(balance(&s, &token, &payer), PAYER_FUNDS - 1000);
    assert_eq!(balance(&s, &token, &s.versions), 0);
    assert_eq!(earned(&s, &alice), 500);
    assert_eq!(earned(&s, &bob), 250);
    assert_eq!(earned(&s, &dave), 0);
    let tips: TipsResponse = q(
        &s,
        &QueryMsg::Tips {
            start_after: None,
            limit: None,
        },
    );
    let height = s.app.block_info().height;
    assert_eq!(
        tips.tips,
        vec![TipRecord {
            id: 1,
            model_id: "m".to_string(),
            payer: payer.clone(),
            amount: Uint128::new(1000),
            height,
            shares: preview,
        }]
    );

    // Alice sells her v3 token to dave: the v3 part follows the token.
    exec(
        &mut s,
        &alice,
        &ExecuteMsg::TransferNft {
            recipient: dave.to_string(),
            token_id: "m.v3".to_string(),
        },
    )
    .unwrap();
    let expected = sorted(vec![
        share(&dave, 500),
        share(&bob, 250),
        share(&carol, 250),
    ]);
    assert_eq!(tip_shares(&s, "m", 1000), expected);
    tip(&mut s, "m", 1000).unwrap();
    assert_eq!(balance(&s, &token, &dave), 500);
    assert_eq!(balance(&s, &token, &alice), 500);
    assert_eq!(balance(&s, &token, &bob), 500);
    assert_eq!(balance(&s, &token, &carol), 500);
    assert_eq!(earned(&s, &dave), 500);
    assert_eq!(earned(&s, &alice), 500);
    let tipped: TippedResponse = q(
        &s,
        &QueryMsg::Tipped {
            model_id: "m".to_string(),
        },
    );
    assert_eq!(tipped.amount, Uint128::new(2000));
    let tips: TipsResponse = q(
        &s,
        &QueryMsg::Tips {
            start_after: Some(1),
            limit: None,
        },
    );
    assert_eq!(tips.tips.len(), 1);
    assert_eq!(tips.tips[0].id, 2);
    assert_eq!(tips.tips[0].shares, expected);
}

#[test]
fn what_does_not_divide_goes_to_the_newest_versions_first_holder() {
    let mut s = setup();
    three_versions(&mut s);
    let (alice, bob, carol, dave) = (
        s.alice.clone(),
        s.bob.clone(),
        s.carol.clone(),
        s.dave.clone(),
    );
    let token = s.token.clone();

    // 1001 over v3 and v2: 500 each, 250 per v2 token, 1 left for v3's holder.
    let expected = sorted(vec![
        share(&alice, 501),
        share(&bob, 250),
        share(&carol, 250),
    ]);
    assert_eq!(tip_shares(&s, "m", 1001), expected);
    tip(&mut s, "m", 1001).unwrap();
    assert_eq!(balance(&s, &token, &alice), 501);

    // One round of three contributors: 1001 = 3 * 333 + 2, the 2 to the first.
    let erin = addr(&s.app, "erin");
    mint(&mut s, "r", 7, &[&dave, &erin, &bob]).unwrap();
    let expected = sorted(vec![share(&dave, 335), share(&erin, 333), share(&bob, 333)]);
    assert_eq!(tip_shares(&s, "r", 1001), expected);
    tip(&mut s, "r", 1001).unwrap();
    assert_eq!(balance(&s, &token, &dave), 335);
    assert_eq!(balance(&s, &token, &erin), 333);
    assert_eq!(balance(&s, &token, &bob), 250 + 333);

    // Less than one unit per version: all of it to the newest first holder.
    let expected = vec![share(&alice, 1)];
    assert_eq!(tip_shares(&s, "m", 1), expected);
    tip(&mut s, "m", 1).unwrap();
    assert_eq!(balance(&s, &token, &alice), 502);

    // Every unit tipped was paid out, none stayed in the contract.
    assert_eq!(balance(&s, &token, &s.versions), 0);
    assert_eq!(balance(&s, &token, &s.payer), PAYER_FUNDS - 1001 - 1001 - 1);
    let tips: TipsResponse = q(
        &s,
        &QueryMsg::Tips {
            start_after: None,
            limit: None,
        },
    );
    for tip in tips.tips {
        let paid: Uint128 = tip.shares.iter().map(|sh| sh.amount).sum();
        assert_eq!(paid, tip.amount);
    }
}

#[test]
fn refused_tips_leave_the_nrn_with_the_tipper() {
    let mut s = setup();
    three_versions(&mut s);
    let (alice, payer) = (s.alice.clone(), s.payer.clone());
    let token = s.token.clone();

    // A lineage without version tokens.
    let err = contract_err(tip(&mut s, "nothing", 1000).unwrap_err());
    assert_eq!(
        err,
        ContractError::NoVersionTokens {
            model_id: "nothing".to_string(),
        }
    );
    let err = s
        .app
        .wrap()
        .query_wasm_smart::<TipSharesResponse>(
            &s.versions,
            &QueryMsg::TipShares {
                model_id: "nothing".to_string(),
                amount: Uint128::new(1000),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("no version tokens"), "{err}");
    assert_eq!(balance(&s, &token, &payer), PAYER_FUNDS);

    // A Receive straight from an account, claiming a tip it never sent.
    let forged = ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
        sender: payer.to_string(),
        amount: Uint128::new(1000),
        msg: to_json_binary(&ReceiveMsg::Tip {
            model_id: "m".to_string(),
        })
        .unwrap(),
    });
    let err = contract_err(exec(&mut s, &payer, &forged).unwrap_err());
    assert_eq!(
        err,
        ContractError::WrongToken {
            expected: token.to_string(),
            found: payer.to_string(),
        }
    );

    // Another cw20.
    let code = s.token_code;
    let fake = new_token(&mut s.app, code, &[(&payer, 5_000)], "fake");
    let err = contract_err(tip_with(&mut s, &fake, "m", 1000).unwrap_err());
    assert_eq!(
        err,
        ContractError::WrongToken {
            expected: token.to_string(),
            found: fake.to_string(),
        }
    );
    assert_eq!(balance(&s, &fake, &payer), 5_000);
    assert_eq!(balance(&s, &fake, &s.versions), 0);

    // A payload that is not a tip.
    let payer2 = payer.clone();
    let versions = s.versions.clone();
    let err = s
        .app
        .execute_contract(
            payer2,
            token.clone(),
            &Cw20ExecuteMsg::Send {
                contract: versions.to_string(),
                amount: Uint128::new(10),
                msg: Binary::from(br#"{"bond":{}}"#.to_vec()),
            },
            &[],
        )
        .unwrap_err();
    assert!(matches!(contract_err(err), ContractError::Std(_)));

    assert_eq!(balance(&s, &token, &payer), PAYER_FUNDS);
    assert_eq!(balance(&s, &token, &alice), 0);
    let tips: TipsResponse = q(
        &s,
        &QueryMsg::Tips {
            start_after: None,
            limit: None,
        },
    );
    assert!(tips.tips.is_empty());
    let tipped: TippedResponse = q(
        &s,
        &QueryMsg::Tipped {
            model_id: "m".to_string(),
        },
    );
    assert_eq!(tipped.amount, Uint128::zero());
}

#[test]
fn the_royalty_rule_set_through_sudo_changes_the_split() {
    let mut s = setup();
    three_versions(&mut s);
    let (alice, bob, carol) = (s.alice.clone(), s.bob.clone(), s.carol.clone());
    let versions = s.versions.clone();

    let res = s
        .app
        .wasm_sudo(
            versions.clone(),
            &SudoMsg::SetRoyaltyRule { last_versions: 3 },
        )
        .unwrap();
    assert_eq!(wasm_attr(&s, &res, "action"), vec!["set_royalty_rule"]);
    assert_eq!(wasm_attr(&s, &res, "last_versions"), vec!["3"]);
    let config: ConfigResponse = q(&s, &QueryMsg::Config {});
    assert_eq!(config.royalty_last_versions, 3);
    assert_eq!(config.token, s.token);
    // 900 over v1, v2, v3: 300 each; alice holds v1 and v3.
    assert_eq!(
        tip_shares(&s, "m", 900),
        sorted(vec![
            share(&alice, 600),
            share(&bob, 150),
            share(&carol, 150)
        ])
    );
    // A rule larger than the lineage shares over all its versions.
    s.app
        .wasm_sudo(
            versions.clone(),
            &SudoMsg::SetRoyaltyRule { last_versions: 50 },
        )
        .unwrap();
    assert_eq!(
        tip_shares(&s, "m", 900),
        sorted(vec![
            share(&alice, 600),
            share(&bob, 150),
            share(&carol, 150)
        ])
    );
    // Only the newest version.
    s.app
        .wasm_sudo(
            versions.clone(),
            &SudoMsg::SetRoyaltyRule { last_versions: 1 },
        )
        .unwrap();
    assert_eq!(tip_shares(&s, "m", 900), vec![share(&alice, 900)]);
    tip(&mut s, "m", 900).unwrap();
    let token = s.token.clone();
    assert_eq!(balance(&s, &token, &alice), 900);
    assert_eq!(balance(&s, &token, &bob), 0);

    for bad in [0, MAX_ROYALTY_LAST_VERSIONS + 1] {
        let err = contract_err(
            s.app
                .wasm_sudo(
                    versions.clone(),
                    &SudoMsg::SetRoyaltyRule { last_versions: bad },
                )
                .unwrap_err(),
        );
        assert!(
            matches!(err, ContractError::InvalidRoyaltyRule { .. }),
            "{err:?}"
        );
    }
    let config: ConfigResponse = q(&s, &QueryMsg::Config {});
    assert_eq!(config.royalty_last_versions, 1);
}

#[test]
fn a_tip_over_the_largest_rule_and_rounds_pays_every_holder() {
    let versions_n = u64::from(MAX_ROYALTY_LAST_VERSIONS);
    let owners_n = MAX_VERSION_OWNERS as usize;
    let mut s = setup_with_rule(MAX_ROYALTY_LAST_VERSIONS);
    let holders: Vec<Vec<Addr>> = (1..=versions_n)
        .map(|v| {
            (0..owners_n)
                .map(|i| addr(&s.app, &format!("h{v}-{i}")))
                .collect()
        })
        .collect();
    for (v, owners) in (1..=versions_n).zip(&holders) {
        let refs: Vec<&Addr> = owners.iter().collect();
        mint(&mut s, "big", v, &refs).unwrap();
    }
    assert_eq!(num_tokens(&s), versions_n * owners_n as u64);

    let amount = 1_234_567u128;
    let res = tip(&mut s, "big", amount).unwrap();
    assert_eq!(
        wasm_attr(&s, &res, "royalty").len(),
        versions_n as usize * owners_n
    );
    let token = s.token.clone();
    let paid: u128 = holders
        .iter()
        .flatten()
        .map(|h| balance(&s, &token, h))
        .sum();
    assert_eq!(paid, amount);
    // 1_234_567 / 100 = 12_345 per version, / 16 = 771 per token; the
    // newest version's first holder also gets what does not divide.
    let per_token = 12_345 / 16;
    assert_eq!(balance(&s, &token, &holders[0][0]), per_token);
    let rest = amount - per_token * 1600;
    assert_eq!(
        balance(&s, &token, &holders[versions_n as usize - 1][0]),
        per_token + rest
    );
    assert_eq!(balance(&s, &token, &s.versions), 0);
}

#[test]
fn version_tokens_and_tips_are_paged() {
    let mut s = setup();
    let alice = s.alice.clone();
    for v in 1..=120 {
        mint(&mut s, "m", v, &[&alice]).unwrap();
    }
    // Another lineage does not show up in this one's pages.
    mint(&mut s, "n", 1, &[&alice]).unwrap();
    let page = |s: &Setup, start_after: Option<u64>, limit: Option<u32>| -> Vec<u64> {
        q::<VersionTokensResponse>(
            s,
            &QueryMsg::VersionTokens {
                model_id: "m".to_string(),
                start_after,
                limit,
            },
        )
        .versions
        .into_iter()
        .map(|v| v.version)
        .collect()
    };
    assert_eq!(page(&s, None, None), (1..=10).collect::<Vec<_>>());
    assert_eq!(page(&s, Some(10), Some(5)), (11..=15).collect::<Vec<_>>());
    assert_eq!(page(&s, None, Some(1000)), (1..=100).collect::<Vec<_>>());
    assert_eq!(page(&s, Some(115), None), (116..=120).collect::<Vec<_>>());

    for _ in 0..12 {
        tip(&mut s, "n", 10).unwrap();
    }
    let ids = |s: &Setup, start_after: Option<u64>, limit: Option<u32>| -> Vec<u64> {
        q::<TipsResponse>(s, &QueryMsg::Tips { start_after, limit })
            .tips
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(ids(&s, None, None), (1..=10).collect::<Vec<_>>());
    assert_eq!(ids(&s, Some(10), None), vec![11, 12]);
    assert_eq!(ids(&s, Some(3), Some(2)), vec![4, 5]);
    assert_eq!(earned(&s, &alice), 120);
}

#[test]
fn the_messages_have_the_cw721_json_shapes() {
    // Each allowed execute message serializes exactly as the library's.
    let allowed = vec![
        ExecuteMsg::TransferNft {
            recipient: "r".to_string(),
            token_id: "t".to_string(),
        },
        ExecuteMsg::SendNft {
            contract: "c".to_string(),
            token_id: "t".to_string(),
            msg: Binary::from(b"{}".to_vec()),
        },
        ExecuteMsg::Approve {
            spender: "s".to_string(),
            token_id: "t".to_string(),
            expires: Some(Expiration::AtHeight(5)),
        },
        ExecuteMsg::Revoke {
            spender: "s".to_string(),
            token_id: "t".to_string(),
        },
        ExecuteMsg::ApproveAll {
            operator: "o".to_string(),
            expires: None,
        },
        ExecuteMsg::RevokeAll {
            operator: "o".to_string(),
        },
    ];
    for msg in allowed {
        let ours = to_json_string(&msg).unwrap();
        let theirs = to_json_string(&msg.clone().into_cw721().unwrap()).unwrap();
        assert_eq!(ours, theirs);
        // And the library's JSON parses as ours.
        let back: ExecuteMsg = from_json(theirs.as_bytes()).unwrap();
        assert_eq!(back, msg);
    }
    let queries = vec![
        QueryMsg::OwnerOf {
            token_id: "t".to_string(),
            include_expired: Some(true),
        },
        QueryMsg::Approval {
            token_id: "t".to_string(),
            spender: "s".to_string(),
            include_expired: None,
        },
        QueryMsg::Approvals {
            token_id: "t".to_string(),
            include_expired: None,
        },
        QueryMsg::Operator {
            owner: "o".to_string(),
            operator: "p".to_string(),
            include_expired: None,
        },
        QueryMsg::AllOperators {
            owner: "o".to_string(),
            include_expired: None,
            start_after: Some("a".to_string()),
            limit: Some(3),
        },
        QueryMsg::NumTokens {},
        QueryMsg::ContractInfo {},
        QueryMsg::GetCollectionInfoAndExtension {},
        QueryMsg::NftInfo {
            token_id: "t".to_string(),
        },
        QueryMsg::AllNftInfo {
            token_id: "t".to_string(),
            include_expired: None,
        },
        QueryMsg::Tokens {
            owner: "o".to_string(),
            start_after: None,
            limit: Some(7),
        },
        QueryMsg::AllTokens {
            start_after: Some("t".to_string()),
            limit: None,
        },
        QueryMsg::GetMinterOwnership {},
        QueryMsg::GetCreatorOwnership {},
        QueryMsg::Minter {},
    ];
    for msg in queries {
        let ours = to_json_string(&msg).unwrap();
        let theirs: Cw721Query = msg.clone().into_cw721().unwrap();
        assert_eq!(ours, to_json_string(&theirs).unwrap());
    }
    assert!(QueryMsg::Config {}.into_cw721().is_none());
    // Every query names its response (for the JSON schema of clients).
    let schemas = <QueryMsg as cosmwasm_schema::QueryResponses>::response_schemas().unwrap();
    for name in [
        "owner_of",
        "nft_info",
        "get_minter_ownership",
        "tip_shares",
        "tips",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    // The tip payload and the cw20 hook.
    assert_eq!(
        to_json_string(&ReceiveMsg::Tip {
            model_id: "m".to_string()
        })
        .unwrap(),
        r#"{"tip":{"model_id":"m"}}"#
    );
    let receive = ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
        sender: "s".to_string(),
        amount: Uint128::new(5),
        msg: Binary::from(b"{}".to_vec()),
    });
    assert_eq!(
        to_json_string(&receive).unwrap(),
        r#"{"receive":{"sender":"s","amount":"5","msg":"e30="}}"#
    );
}

#[test]
fn instantiate_checks_its_inputs_and_migrate_is_guarded() {
    let mut deps = mock_dependencies();
    let env = mock_env();
    let chain = deps.api.addr_make("chain");
    let token = deps.api.addr_make("token");
    let msg = |token: &str, rule: u32| InstantiateMsg {
        name: "V".to_string(),
        symbol: "V".to_string(),
        token: token.to_string(),
        royalty_last_versions: rule,
    };
    let err = contract::instantiate(
        deps.as_mut(),
        env.clone(),
        message_info(&chain, &[]),
        msg(token.as_str(), 0),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::InvalidRoyaltyRule { .. }));
    let err = contract::instantiate(
        deps.as_mut(),
        env.clone(),
        message_info(&chain, &[]),
        msg("not-an-address", 10),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::Std(_)), "{err:?}");
    contract::instantiate(
        deps.as_mut(),
        env.clone(),
        message_info(&chain, &[]),
        msg(token.as_str(), 10),
    )
    .unwrap();
    let version = cw2::get_contract_version(&deps.storage).unwrap();
    assert_eq!(version.contract, CONTRACT_NAME);
    assert_eq!(version.version, CONTRACT_VERSION);

    let res = contract::migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap();
    assert_eq!(res.attributes[0].value, "migrate");
    cw2::set_contract_version(&mut deps.storage, CONTRACT_NAME, "99.0.0").unwrap();
    let err = contract::migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
    assert!(matches!(
        err,
        ContractError::Migrate(MigrateError::CannotDowngrade { .. })
    ));
    cw2::set_contract_version(&mut deps.storage, "crates.io:other", "0.0.1").unwrap();
    let err = contract::migrate(deps.as_mut(), env, MigrateMsg {}).unwrap_err();
    assert!(matches!(
        err,
        ContractError::Migrate(MigrateError::WrongContract { .. })
    ));
}
