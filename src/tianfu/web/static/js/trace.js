// The trace page's "verified against the chain" mark: the batch record is fetched as a
// state proof document and verified here, in the browser, against the validator keys of
// the genesis (whose hash is shown for comparison with the one the consortium publishes);
// then the record's recall, status and holder must be the ones the page shows.
import { documentText, fillMessage, fromHex, verifyStateDocument, VerifyError } from "./proof.js";

const box = document.getElementById("chain-check");
const out = document.getElementById("chain-check-result");
const msg = box ? box.dataset : {};
const catalogue = JSON.parse(msg.catalogue || "{}"); // the verifier's messages, translated

const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));

async function check() {
  const code = msg.code;
  const [docResp, genResp] = await Promise.all([
    fetch(`/v1/proofs/state/traceability/batch:${encodeURIComponent(code)}`),
    fetch("/v1/genesis"),
  ]);
  if (!docResp.ok || !genResp.ok) {
    const status = { proof: docResp.status, genesis: genResp.status };
    throw new VerifyError("the node gave no proof or genesis (HTTP %(proof)s / %(genesis)s)", status);
  }
  const genesis = fromHex((await genResp.json()).raw);
  const r = verifyStateDocument(documentText(new Uint8Array(await docResp.arrayBuffer())), genesis);
  const e = r.entries.find((x) => x.contract === "traceability" && x.key === `batch:${code}`);
  if (!e || e.value === null || typeof e.value !== "object") {
    throw new VerifyError("the proof does not contain this batch record");
  }
  const recalled = e.value.recall !== null && e.value.recall !== undefined;
  const same =
    String(recalled) === msg.recalled &&
    String(e.value.status) === msg.status &&
    String(e.value.holder) === msg.holder;
  box.classList.add(same ? "good" : "fail");
  box.dataset.verdict = same ? "verified" : "mismatch";
  out.textContent = same
    ? fill(msg.ok, { height: r.height, signers: r.signers.join(", "), genesis: r.genesisHash })
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
