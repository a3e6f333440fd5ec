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
// Then, when UM_FRESH_MNEMONIC is set, that key (the recipient, which had
// no account before the transfer: receiving NRN opened it) sends UM_AMOUNT/2
// back with the same unmodified calls: fee "auto", the same gas price.
//
// Fees: GasPrice.fromString("0.025unrn") (the chain's minimum); CosmJS
// multiplies the simulated gas and pays gas × price in unrn, which the chain
// takes from the NRN cw20 balance.
//
// Input (environment): UM_RPC (http://host:port), UM_MNEMONIC, UM_TOKEN (the
// cw20 contract), UM_RECIPIENT, UM_AMOUNT (micro-NRN, a decimal string),
// optionally UM_FRESH_MNEMONIC.
// Output: one JSON line on stdout with what the chain answered; exit code 1
// and the error on stderr when any step fails.

import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";

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

const GAS_PRICE = GasPrice.fromString("0.025unrn");

// A key that holds NRN because it just received some: its account exists,
// so CosmJS signs its first tx with no help.
async function firstTxOfNewKey(rpc, mnemonic, token, recipient, amount) {
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "um" });
  const [{ address }] = await wallet.getAccounts();
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GAS_PRICE,
  });
  try {
    const before = await client.getAccount(address);
    const balanceBefore = await balance(client, token, address);
    const result = await client.execute(
      address,
      token,
      { transfer: { recipient, amount } },
      "auto",
      "first tx of a new key",
    );
    const after = await client.getAccount(address);
    return {
      address,
      existedBefore: before !== null,
      accountNumberBefore: before === null ? null : before.accountNumber,
      code: 0,
      height: result.height,
      gasWanted: Number(result.gasWanted),
      accountNumberAfter: after === null ? null : after.accountNumber,
      sequenceAfter: after === null ? null : after.sequence,
      balanceBefore,
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
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GAS_PRICE,
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
      ? await firstTxOfNewKey(rpc, freshMnemonic, token, sender, (BigInt(amount) / 2n).toString())
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
