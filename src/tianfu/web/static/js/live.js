// Live updates of the overview: each block the node commits (its WebSocket
// /v1/events/blocks) is added to the top of the recent-blocks table without a reload.
// Text is set with textContent only: nothing from the node is parsed as HTML.
const body = document.getElementById("recent-blocks");
const template = document.getElementById("row-template");
const heightEl = document.getElementById("height");
const live = document.getElementById("live");
const KEEP = 10;

function shortHex(h) {
  return h.length <= 16 ? h : `${h.slice(0, 10)}…${h.slice(-4)}`;
}

function addRow(batch) {
  const header = batch.header || {};
  const height = Number(batch.height);
  const row = template.content.firstElementChild.cloneNode(true);
  const [hCell, tCell, nCell, hashCell] = row.children;
  const link = hCell.querySelector("a");
  link.href = `/blocks/${height}`;
  link.textContent = String(height);
  const time = tCell.querySelector("time");
  const ms = Number(header.time_ms);
  time.dateTime = new Date(ms).toISOString();
  time.title = String(ms);
  time.textContent = new Date(ms).toLocaleString();
  nCell.textContent = String(header.tx_count ?? (batch.receipts || []).length);
  const hash = String(header.hash || "");
  const a = hashCell.querySelector("a");
  a.href = `/blocks/${height}`;
  a.title = hash;
  a.textContent = shortHex(hash);
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
