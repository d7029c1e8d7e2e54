// The /verify page: reads the certificate, the file and the genesis the visitor picks
// (FileReader only: nothing is uploaded) and shows the verdict of proof.js.
// Every text is set with textContent: nothing from the files is parsed as HTML.
import {
  documentText, fillMessage, genesisBytesOf, hex, parseGenesis, verifyCertificate, VerifyError,
} from "./proof.js";

const $ = (id) => document.getElementById(id);
const msg = $("messages").dataset;
const catalogue = JSON.parse(msg.catalogue || "{}"); // the verifier's messages, translated

const reason = (e) =>
  e instanceof VerifyError ? fillMessage(catalogue[e.msgid] || e.msgid, e.params) : String(e);
const MAX_FILE = 64 * 1024 * 1024;

async function bytesOf(input) {
  const f = input.files && input.files[0];
  if (!f) return null;
  if (f.size > MAX_FILE) throw new VerifyError("%(name)s is larger than 64 MiB", { name: f.name });
  return new Uint8Array(await f.arrayBuffer());
}

function field(dl, label, value, title) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (title) dd.title = title;
  dl.append(dt, dd);
}

function when(ms) {
  const opts = { timeZone: msg.tz || undefined, dateStyle: "medium", timeStyle: "medium" };
  try {
    return new Date(ms).toLocaleString(document.documentElement.lang, opts);
  } catch (e) {
    return new Date(ms).toISOString();
  }
}

function show(ok, reason, result) {
  const box = $("verdict");
  box.hidden = false;
  box.classList.toggle("good", ok);
  box.classList.toggle("fail", !ok);
  box.dataset.verdict = ok ? "verified" : "rejected";
  $("verdict-title").textContent = ok ? msg.ok : msg.bad;
  $("verdict-reason").textContent = reason;
  const dl = $("verdict-fields");
  dl.replaceChildren();
  if (!result) return;
  field(dl, msg.fDeposit, result.depositId);
  field(dl, msg.fTitle, result.title);
  field(dl, msg.fHash, result.fileHash);
  field(dl, msg.fDepositor, `${result.depositorName} ${result.depositor}`);
  field(dl, msg.fOrg, result.org);
  field(dl, msg.fBlock, `${result.height} · ${result.blockHash}`);
  field(dl, msg.fTime, when(result.timeMs), String(result.timeMs));
  field(dl, msg.fChain, result.chainId);
  field(dl, msg.fGenesis, result.genesisHash);
  field(dl, msg.fSigners, result.signers.join(", "));
}

$("verify-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const certBytes = await bytesOf($("cert-file"));
    const genesisFile = await bytesOf($("genesis-file"));
    if (!certBytes || !genesisFile) {
      throw new VerifyError("a certificate and a genesis are needed");
    }
    const fileBytes = await bytesOf($("data-file"));
    const genesis = genesisBytesOf(genesisFile);
    const expected = $("genesis-hash").value.trim().toLowerCase();
    if (expected) {
      // the genesis's hash in its own suite (SM3 on an SM2 chain), as the node shows it
      if (hex(parseGenesis(genesis).hash) !== expected) {
        throw new VerifyError("The genesis file does not have the expected hash.");
      }
    }
    const result = verifyCertificate(documentText(certBytes), genesis, fileBytes);
    if (result.file === false) {
      show(false, msg.fileBad, result);
    } else {
      show(true, result.file ? msg.fileOk : msg.noFile, result);
    }
  } catch (e) {
    show(false, reason(e), null);
  }
});
