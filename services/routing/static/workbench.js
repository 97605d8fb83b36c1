// The handler workbench's script (the pages work without it): countdowns kept current, and new
// assignments fetched from the queue's own JSON (`data-poll`) and added to the table.
"use strict";

const WARNING_SHARE = 0.75; // as services/routing/domain/workbench.py
const NEAR_MS = 24 * 3600 * 1000;
const LABELS = { aman: "Masih aman", dekat: "Mendekati batas waktu", lewat: "Melewati batas waktu" };
const POLL_MS = 10000;

function words(ms) {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const text = days ? `${days} hari ${hours} jam` : hours ? `${hours} jam ${mins} menit` : `${mins} menit`;
  return ms < 0 ? `lewat ${text}` : `sisa ${text}`;
}

function level(due, started, now) {
  if (now >= due) return "lewat";
  if (started && due > started) return (now - started) / (due - started) >= WARNING_SHARE ? "dekat" : "aman";
  return due - now <= NEAR_MS ? "dekat" : "aman";
}

// The server's clock, which the countdowns follow (a browser's may be off by minutes).
const serverNow = Date.parse(document.getElementById("server-now")?.dataset.now || "");
const skew = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();

function tick() {
  const now = Date.now() + skew;
  for (const el of document.querySelectorAll("[data-due]")) {
    const due = Date.parse(el.dataset.due);
    const started = el.dataset.started ? Date.parse(el.dataset.started) : null;
    if (Number.isNaN(due)) continue;
    const lv = el.classList.contains("due-lewat") ? "lewat" : level(due, started, now);
    el.className = `due due-${lv}`;
    const lvl = el.querySelector(".level");
    const left = el.querySelector(".left");
    if (lvl) lvl.textContent = LABELS[lv];
    if (left) left.textContent = words(due - now);
  }
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function newRow(item) {
  const tr = document.createElement("tr");
  tr.dataset.id = item.id;
  tr.className = "new";
  const first = document.createElement("td");
  const a = document.createElement("a");
  a.href = item.href;
  a.textContent = item.title;
  const id = document.createElement("small");
  id.className = "muted";
  id.textContent = item.id;
  first.append(a, document.createElement("br"), id);
  tr.appendChild(first);
  cell(tr, item.category);
  cell(tr, item.status_label);
  const due = cell(tr, "");
  if (item.clock) {
    const span = document.createElement("span");
    span.className = `due due-${item.clock.urgency}`;
    if (item.clock.due) span.dataset.due = item.clock.due;
    if (item.clock.started) span.dataset.started = item.clock.started;
    const lvl = document.createElement("span");
    lvl.className = "level";
    lvl.textContent = item.clock.urgency_label;
    const left = document.createElement("span");
    left.className = "left";
    left.textContent = item.clock.countdown;
    span.append(lvl, " · ", left);
    due.appendChild(span);
  } else {
    due.textContent = "Tanpa jam berjalan";
  }
  cell(tr, item.claimed_by || "—");
  return tr;
}

async function poll(table) {
  try {
    const resp = await fetch(table.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok || !(resp.headers.get("Content-Type") || "").includes("json")) return;
    const { items } = await resp.json();
    const body = table.tBodies[0];
    const known = new Set([...body.rows].map((r) => r.dataset.id));
    const fresh = items.filter((i) => !known.has(i.id));
    if (!fresh.length) return;
    for (const r of body.querySelectorAll("tr.empty")) r.remove();
    for (const item of fresh.reverse()) body.insertBefore(newRow(item), body.firstChild);
    const note = document.getElementById("arrivals");
    if (note) note.textContent = `${fresh.length} pengaduan baru masuk antrean.`;
  } catch (_) {
    // offline or signed out: the next round tries again
  }
}

tick();
setInterval(tick, 30000);
const table = document.querySelector("table[data-poll]");
if (table) setInterval(() => poll(table), POLL_MS);
