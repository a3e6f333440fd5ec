// A newcomer's first session with an unmodified CosmJS, on a chain that
// charges fees in NRN: a key that received its first NRN from the faucet
// uploads a contract (where the chain permits), instantiates it, executes
// it, and transfers NRN; every tx signs with fee "auto" at
// GasPrice.fromString("0.025unrn").
//
// Input (environment): UM_RPC (http://host:port), UM_MNEMONIC (the
// newcomer), UM_WASM (a contract to upload: the cw20 NRN token's code),
// UM_TOKEN (the NRN cw20), UM_RECIPIENT (who gets NRN), UM_AMOUNT (micro-NRN).
// Output: one JSON line with every tx's height, gas and fee and the
// balances before and after; exit code 1 and the error on stderr when any
// step fails.

import { readFileSync } from "node:fs";

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

// The unrn fee a tx paid, from the chain's `tx.fee` event.
function feeOf(result) {
  for (const event of result.events) {
    if (event.type !== "tx") continue;
    const fee = event.attributes.find((a) => a.key === "fee");
    if (fee) return fee.value.replace(/unrn$/, "");
  }
  throw new Error(`tx ${result.transactionHash} has no tx.fee event`);
}

function summary(result) {
  return {
    hash: result.transactionHash,
    height: result.height,
    gasWanted: Number(result.gasWanted),
    gasUsed: Number(result.gasUsed),
    fee: feeOf(result),
  };
}

async function main() {
  const rpc = required("UM_RPC");
  const token = required("UM_TOKEN");
  const recipient = required("UM_RECIPIENT");
  const amount = required("UM_AMOUNT");
  const wasm = readFileSync(required("UM_WASM"));
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(required("UM_MNEMONIC"), {
    prefix: "um",
  });
  const [{ address }] = await wallet.getAccounts();
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GasPrice.fromString("0.025unrn"),
  });
  try {
    const account = await client.getAccount(address);
    if (account === null) {
      throw new Error(`the faucet's NRN did not open an account for ${address}`);
    }
    const before = await balance(client, token, address);

    const upload = await client.upload(address, wasm, "auto", "newcomer upload");
    const instantiated = await client.instantiate(
      address,
      upload.codeId,
      {
        name: "Newcomer",
        symbol: "NEWC",
        decimals: 6,
        initial_balances: [{ address, amount: "1000" }],
      },
      "newcomer token",
      "auto",
    );
    const executed = await client.execute(
      address,
      instantiated.contractAddress,
      { transfer: { recipient, amount: "10" } },
      "auto",
    );
    const transferred = await client.execute(
      address,
      token,
      { transfer: { recipient, amount } },
      "auto",
    );
    console.log(
      JSON.stringify({
        address,
        accountNumber: account.accountNumber,
        codeId: upload.codeId,
        contract: instantiated.contractAddress,
        newTokenBalances: {
          sender: await balance(client, instantiated.contractAddress, address),
          recipient: await balance(client, instantiated.contractAddress, recipient),
        },
        txs: {
          upload: summary(upload),
          instantiate: summary(instantiated),
          execute: summary(executed),
          transfer: summary(transferred),
        },
        nrnBefore: before,
        nrnAfter: await balance(client, token, address),
      }),
    );
  } finally {
    client.disconnect();
  }
}

main().catch((error) => {
  console.error(`cosmjs-newcomer: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
