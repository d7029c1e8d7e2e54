// Live updates of the overview: each block the node commits (its WebSocket
// /v1/events/blocks) is added to the top of the recent-blocks table without a reload.
// Text is set with textContent only: nothing from the node is parsed as HTML.
import { nodeDate } from "./dates.js";
import { decode, fromHex } from "./proof.js";

const body = document.getElementById("recent-blocks");
const template = document.getElementById("row-template");
const heightEl = document.getElementById("height");
const live = document.getElementById("live");
const KEEP = 10;

// The fields of a block header (its canonical msgpack array, as the WebSocket sends it).
function headerOf(hexBytes) {
  const h = decode(fromHex(hexBytes));
  return { height: h[2], time_ms: h[3], tx_count: h[10] };
}

function addRow(batch) {
  const header = headerOf(batch.header);
  const height = Number(header.height);
  const row = template.content.firstElementChild.cloneNode(true);
  const [hCell, tCell, nCell, hashCell] = row.children;
  const link = hCell.querySelector("a");
  link.href = `/blocks/${height}`;
  link.textContent = String(height);
  const time = tCell.querySelector("time");
  const ms = Number(header.time_ms);
  time.dateTime = new Date(ms).toISOString();
  time.title = String(ms);
  time.dataset.ms = String(ms);
  time.textContent = nodeDate(ms, body.dataset.tz);
  nCell.textContent = String(header.tx_count);
  // The header hash needs the chain's hash function; the block page shows it.
  const a = hashCell.querySelector("a");
  a.href = `/blocks/${height}`;
  a.textContent = "→";
  row.classList.add("new");
  body.prepend(row);
  while (body.children.length > KEEP) body.lastElementChild.remove();
  heightEl.textContent = String(height);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const from = Number(body.dataset.top) + 1;
  const ws = new WebSocket(`${proto}//${location.host}/v1/events/blocks?from=${from}`);
  ws.onopen = () => { live.hidden = false; };
  ws.onmessage = (ev) => {
    try {
      const batch = JSON.parse(ev.data);
      body.dataset.top = String(batch.height);
      addRow(batch);
    } catch (e) { /* a malformed message is ignored */ }
  };
  ws.onclose = () => { live.hidden = true; setTimeout(connect, 3000); };
}

if (body && template && "WebSocket" in window) connect();
