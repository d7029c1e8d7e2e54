// The transaction page's "verified against the chain" mark: the transaction's proof is
// fetched and verified here, in the browser, against the validator keys of the genesis
// (whose hash is shown for comparison with the one the consortium publishes); then the
// proven transaction's hash, block, position and result must be the ones the page shows.
import { fillMessage, fromHex, verifyTxProof, VerifyError } from "./proof.js";

const box = document.getElementById("chain-check");
const out = document.getElementById("chain-check-result");
const msg = box ? box.dataset : {};
const catalogue = JSON.parse(msg.catalogue || "{}"); // the verifier's messages, translated

const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));

async function check() {
  const [docResp, genResp] = await Promise.all([
    fetch(`/v1/txs/${encodeURIComponent(msg.hash)}/proof`),
    fetch("/v1/genesis"),
  ]);
  if (!docResp.ok || !genResp.ok) {
    const status = { proof: docResp.status, genesis: genResp.status };
    throw new VerifyError("the node gave no proof or genesis (HTTP %(proof)s / %(genesis)s)", status);
  }
  const genesis = fromHex((await genResp.json()).raw);
  const r = verifyTxProof(await docResp.text(), genesis);
  const same =
    r.txHash === msg.hash &&
    String(r.height) === msg.height &&
    String(r.index) === msg.index &&
    String(r.ok) === msg.ok;
  box.classList.add(same ? "good" : "fail");
  box.dataset.verdict = same ? "verified" : "mismatch";
  out.textContent = same
    ? fill(msg.ok === "true" ? msg.good : msg.goodFailed, {
        height: r.height,
        index: r.index,
        signers: r.signers.join(", "),
        genesis: r.genesisHash,
      })
    : msg.mismatch;
}

if (box && out) {
  check().catch((e) => {
    box.classList.add("fail");
    box.dataset.verdict = "error";
    const why =
      e instanceof VerifyError ? fillMessage(catalogue[e.msgid] || e.msgid, e.params) : String(e);
    out.textContent = `${msg.error} ${why}`;
  });
}
