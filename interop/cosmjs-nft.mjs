// A version NFT (nrn-versions, cw721) read and given away with an
// unmodified CosmJS, against umd's CometBFT RPC.
//
// The standard cw721 messages only: owner_of, nft_info and tokens through
// CosmWasmClient.queryContractSmart (/cosmwasm.wasm.v1.Query/SmartContractState),
// then transfer_nft through SigningCosmWasmClient.execute (simulated gas,
// fee "auto" at the chain's minimum price, SIGN_MODE_DIRECT), then owner_of
// again.
//
// Input (environment): UM_RPC (http://host:port), UM_MNEMONIC (the owner's
// key), UM_CONTRACT (nrn-versions), UM_TOKEN_ID, UM_RECIPIENT.
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

async function main() {
  const rpc = required("UM_RPC");
  const contract = required("UM_CONTRACT");
  const tokenId = required("UM_TOKEN_ID");
  const recipient = required("UM_RECIPIENT");
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(required("UM_MNEMONIC"), {
    prefix: "um",
  });
  const [{ address: sender }] = await wallet.getAccounts();
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GasPrice.fromString("0.025unrn"),
  });
  try {
    const ownerBefore = await client.queryContractSmart(contract, {
      owner_of: { token_id: tokenId },
    });
    const nftInfo = await client.queryContractSmart(contract, {
      nft_info: { token_id: tokenId },
    });
    const senderTokensBefore = await client.queryContractSmart(contract, {
      tokens: { owner: sender, limit: 100 },
    });
    const result = await client.execute(
      sender,
      contract,
      { transfer_nft: { recipient, token_id: tokenId } },
      "auto",
      "a version NFT changes hands",
    );
    const ownerAfter = await client.queryContractSmart(contract, {
      owner_of: { token_id: tokenId },
    });
    const recipientTokens = await client.queryContractSmart(contract, {
      tokens: { owner: recipient, limit: 100 },
    });
    console.log(
      JSON.stringify({
        sender,
        txHash: result.transactionHash,
        height: result.height,
        gasUsed: Number(result.gasUsed),
        ownerBefore: ownerBefore.owner,
        ownerAfter: ownerAfter.owner,
        nftInfo,
        senderTokensBefore: senderTokensBefore.tokens,
        recipientTokens: recipientTokens.tokens,
      }),
    );
  } finally {
    client.disconnect();
  }
}

main().catch((error) => {
  console.error(`cosmjs-nft: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
