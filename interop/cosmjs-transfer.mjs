// A cw20 transfer of NRN with an unmodified CosmJS, against umd's CometBFT RPC.
//
// Everything goes through the standard client: the HD wallet derives the key
// (m/44'/118'/0'/0/0, prefix "um"), SigningCosmWasmClient detects CometBFT
// 0.38, reads the account (/cosmos.auth.v1beta1.Query/Account), estimates gas
// (/cosmos.tx.v1beta1.Service/Simulate, fee "auto"), signs SIGN_MODE_DIRECT,
// broadcasts with broadcast_tx_sync, polls `tx` by hash (CometBFT's kv
// indexer) and reads balances with queryContractSmart
// (/cosmwasm.wasm.v1.Query/SmartContractState).
//
// Then, when UM_FRESH_MNEMONIC is set, a key whose account does not exist
// yet sends its first tx: CosmJS cannot look up an account number and
// sequence for it, so it signs with explicit signer data (account number 0,
// sequence 0, as umd expects of a new account's first tx) and a fixed gas
// limit, and broadcasts that; it transfers UM_AMOUNT too.
//
// Input (environment): UM_RPC (http://host:port), UM_MNEMONIC, UM_TOKEN (the
// cw20 contract), UM_RECIPIENT, UM_AMOUNT (micro-NRN, a decimal string),
// optionally UM_FRESH_MNEMONIC.
// Output: one JSON line on stdout with what the chain answered; exit code 1
// and the error on stderr when any step fails.

import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";
import { TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { MsgExecuteContract } from "cosmjs-types/cosmwasm/wasm/v1/tx";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

async function balance(client, token, address) {
  const answer = await client.queryContractSmart(token, { balance: { address } });
  return answer.balance;
}

// The first tx of an account that does not exist yet.
async function firstTxOfNewAccount(rpc, chainId, mnemonic, token, recipient, amount) {
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "um" });
  const [{ address }] = await wallet.getAccounts();
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet);
  try {
    const before = await client.getAccount(address);
    const message = {
      typeUrl: "/cosmwasm.wasm.v1.MsgExecuteContract",
      value: MsgExecuteContract.fromPartial({
        sender: address,
        contract: token,
        msg: new TextEncoder().encode(JSON.stringify({ transfer: { recipient, amount } })),
        funds: [],
      }),
    };
    const signed = await client.sign(
      address,
      [message],
      { amount: [], gas: "1000000" },
      "first tx of a new account",
      { accountNumber: 0, sequence: 0, chainId },
    );
    const result = await client.broadcastTx(TxRaw.encode(signed).finish());
    const after = await client.getAccount(address);
    return {
      address,
      existedBefore: before !== null,
      code: result.code,
      rawLog: result.rawLog,
      height: result.height,
      accountNumberAfter: after === null ? null : after.accountNumber,
      sequenceAfter: after === null ? null : after.sequence,
      balanceAfter: await balance(client, token, address),
    };
  } finally {
    client.disconnect();
  }
}

async function main() {
  const rpc = required("UM_RPC");
  const token = required("UM_TOKEN");
  const recipient = required("UM_RECIPIENT");
  const amount = required("UM_AMOUNT");
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(required("UM_MNEMONIC"), {
    prefix: "um",
  });
  const [{ address: sender }] = await wallet.getAccounts();
  // Fees are zero on this chain (txs are limited by gas), but fee "auto"
  // needs a gas price to multiply the simulated gas with.
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GasPrice.fromString("0unrn"),
  });
  try {
    const chainId = await client.getChainId();
    const account = await client.getAccount(sender);
    if (account === null) {
      throw new Error(`account ${sender} does not exist on chain ${chainId}`);
    }
    const senderBefore = await balance(client, token, sender);
    const recipientBefore = await balance(client, token, recipient);
    const result = await client.execute(
      sender,
      token,
      { transfer: { recipient, amount } },
      "auto",
      "cosmjs interop",
    );
    // Read the tx back by hash, as a block explorer would.
    const indexed = await client.getTx(result.transactionHash);
    const sequenceAfter = (await client.getSequence(sender)).sequence;
    const transferEvent = result.events.find(
      (event) =>
        event.type === "wasm" &&
        event.attributes.some((a) => a.key === "action" && a.value === "transfer"),
    );
    const senderAfter = await balance(client, token, sender);
    const recipientAfter = await balance(client, token, recipient);
    const freshMnemonic = process.env.UM_FRESH_MNEMONIC;
    const fresh = freshMnemonic
      ? await firstTxOfNewAccount(rpc, chainId, freshMnemonic, token, recipient, amount)
      : null;
    console.log(
      JSON.stringify({
        chainId,
        sender,
        accountNumber: account.accountNumber,
        sequenceBefore: account.sequence,
        sequenceAfter,
        txHash: result.transactionHash,
        height: result.height,
        gasWanted: Number(result.gasWanted),
        gasUsed: Number(result.gasUsed),
        indexedCode: indexed === null ? null : indexed.code,
        indexedHeight: indexed === null ? null : indexed.height,
        transferEvent: transferEvent === undefined ? null : transferEvent.attributes,
        senderBefore,
        recipientBefore,
        senderAfter,
        recipientAfter,
        fresh,
      }),
    );
  } finally {
    client.disconnect();
  }
}

main().catch((error) => {
  console.error(`cosmjs-transfer: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
