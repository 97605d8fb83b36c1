// Dasbor pengawasan SLA: reads the supervisor API as the person signed in at routing's staff
// sign-in, whose short-lived token the browser sends as an HttpOnly cookie (this script never sees
// it). Without one (or once it expired) the page offers the sign-in, which sends the person back.
// No external libraries or fonts: the charts are hand-written SVG, so the page works offline.
"use strict";

(() => {
  const API = "/api/v1/supervisor";
  const SVG = "http://www.w3.org/2000/svg";
  const CLOCK_LABELS = { response: "Respons", resolution: "Penyelesaian", verification: "Verifikasi" };
  const STATE_LABELS = {
    breached: "berhenti, terlambat", met: "selesai", transferred: "dialihkan", cancelled: "dibatalkan",
  };
  const $ = (selector) => document.querySelector(selector);
  let breachCursor = null;

  // --- who is signed in ---------------------------------------------------------------------------

  let signedIn = false;
  // Who /me says is signed in (their scope decides which pemda-wide figures are asked for).
  let person = null;

  function showSignIn(message) {
    signedIn = false;
    const link = $("#sign-in");
    const url = new URL(link.dataset.signIn, location.href);
    url.searchParams.set("next", location.href);
    link.href = url.href;
    $("#sign-in-panel").hidden = false;
    $("#who").textContent = message || "Belum masuk.";
  }

  async function showWho() {
    const response = await fetch(`${API}/me`, { headers: { Accept: "application/json" } });
    if (response.status === 401) {
      showSignIn();
      return false;
    }
    if (!response.ok) {
      showSignIn(`Akun ini tidak dapat membuka dasbor (${response.status}).`);
      return false;
    }
    const c = await response.json();
    signedIn = true;
    person = c;
    $("#sign-in-panel").hidden = true;
    const scope = c.opd_name || c.opd || (c.pemda_name || c.pemda ? `${c.pemda_name || c.pemda}` : "seluruh pemda");
    $("#who").textContent = `Masuk sebagai ${c.name || c.sub} (${c.role_label}), cakupan: ${scope}`;
    if (!$("#f-pemda").value) {
      $("#f-pemda").value = c.pemda || (c.opd ? c.opd.split("/")[0] : "");
    }
    return true;
  }

  // --- formatting -------------------------------------------------------------------------------

  function num(value, digits) {
    if (value === null || value === undefined) return "–";
    const fixed = digits === undefined ? String(value) : Number(value).toFixed(digits).replace(/\.?0+$/, "");
    return fixed.replace(".", ",");
  }
  const pct = (value) => (value === null || value === undefined ? "–" : `${num(value)} %`);
  const hk = (value) => (value === null || value === undefined ? "–" : `${num(value, 2)} HK`);
  const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "–");
  const slug = (opd) => (opd ? opd.split("/").slice(1).join("/") || opd : "–");
  // An OPD as a person reads it: its name from routing's catalog, its id until the name is known.
  const opdLabel = (id, name) => name || id || "–";

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function fillTable(selector, rows, makeCells, emptyText, colspan) {
    const body = $(`${selector} tbody`);
    body.replaceChildren();
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(emptyText, "text muted");
      td.colSpan = colspan;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const row of rows) body.append(makeRow(makeCells(row)));
  }

  function makeRow(cells, className) {
    const tr = document.createElement("tr");
    if (className) tr.className = className;
    tr.append(...cells);
    return tr;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- API --------------------------------------------------------------------------------------

  function params(extra) {
    const p = new URLSearchParams();
    for (const [name, id] of [["pemda", "#f-pemda"], ["opd", "#f-opd"], ["from", "#f-from"], ["to", "#f-to"]]) {
      const value = $(id).value.trim();
      if (value) p.set(name, value);
    }
    for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
    return p;
  }

  // The IKM is kept by month: the period's dates as months (YYYY-MM).
  function monthParams(extra) {
    const p = params(extra);
    for (const name of ["from", "to"]) if (p.get(name)) p.set(name, p.get(name).slice(0, 7));
    return p;
  }

  async function api(path, query, accept) {
    const response = await fetch(`${API}/${path}?${query}`, {
      headers: { Accept: accept || "application/json" },
    });
    if (response.status === 401) {
      showSignIn("Sesi berakhir; silakan masuk lagi.");
    }
    if (!response.ok) {
      let detail = `${response.status}`;
      try {
        const problem = await response.json();
        const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
        detail = [problem.title, problem.detail, fields].filter(Boolean).join(" — ");
      } catch (e) {
        /* not a problem document */
      }
      throw new Error(detail);
    }
    return accept === "text/csv" ? response.blob() : response.json();
  }

  // --- compliance -------------------------------------------------------------------------------

  function tile(label, value) {
    const div = document.createElement("div");
    div.className = "tile";
    const v = document.createElement("div");
    v.className = "value";
    v.textContent = value;
    const l = document.createElement("div");
    l.className = "label";
    l.textContent = label;
    div.append(v, l);
    return div;
  }

  function complianceCells(r, name) {
    return [
      cell(name, "text"),
      cell(num(r.assigned)),
      cell(num(r.met)),
      cell(num(r.breached), r.breached ? "late" : ""),
      cell(pct(r.on_time_pct)),
      cell(hk(r.response.median_hk)),
      cell(hk(r.response.p90_hk)),
      cell(num(r.open)),
      cell(num(r.breached_open), r.breached_open ? "late" : ""),
      cell(num(r.escalated)),
      cell(num(r.aging.lt_3)),
      cell(num(r.aging["3_5"])),
      cell(num(r.aging["5_10"])),
      cell(num(r.aging.gt_10)),
      cell(num(r.transfers_out)),
      cell(hk(r.misrouted_hk)),
    ];
  }

  function renderCompliance(data) {
    const t = data.total;
    $("#period").textContent = `Periode ${data.period.from} s.d. ${data.period.to} (${data.period.from_week}–${data.period.to_week})`;
    $("#tiles").replaceChildren(
      tile("Tepat waktu", pct(t.on_time_pct)),
      tile("Median respons", hk(t.response.median_hk)),
      tile("Terbuka", num(t.open)),
      tile("Terlambat (terbuka)", num(t.breached_open)),
      tile("Tereskalasi", num(t.escalated)),
    );
    const body = $("#compliance-table tbody");
    body.replaceChildren();
    for (const r of data.items) {
      const tr = makeRow(complianceCells(r, opdLabel(r.scope, r.opd_name)));
      tr.dataset.scope = r.scope;
      body.append(tr);
    }
    if (!data.items.length) {
      const td = cell("Belum ada data untuk periode ini.", "text muted");
      td.colSpan = 16;
      body.append(makeRow([td]));
    } else if (data.items.length > 1) {
      body.append(makeRow(complianceCells(t, "Jumlah"), "total"));
    }
    renderComplianceChart(data.items);
    fillOpdChoices(data);
  }

  function renderComplianceChart(rows) {
    const holder = $("#compliance-chart");
    holder.replaceChildren();
    if (!rows.length) return;
    const labelWidth = 240;
    const width = 900;
    const barWidth = width - labelWidth - 90;
    const rowHeight = 26;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowHeight + 24}`, "data-rows": rows.length });
    rows.forEach((r, i) => {
      const y = i * rowHeight + 4;
      chart.append(svg("text", { x: 0, y: y + 15 }, opdLabel(r.scope, r.opd_name)));
      const done = r.met + r.breached;
      if (!done) {
        chart.append(svg("rect", { x: labelWidth, y, width: barWidth, height: 18, class: "bar-none" }));
        chart.append(svg("text", { x: labelWidth + barWidth + 8, y: y + 15 }, "–"));
        return;
      }
      const metWidth = (barWidth * r.met) / done;
      chart.append(svg("rect", { x: labelWidth, y, width: metWidth, height: 18, class: "bar-met" }));
      chart.append(
        svg("rect", { x: labelWidth + metWidth, y, width: barWidth - metWidth, height: 18, class: "bar-breached" }),
      );
      chart.append(svg("text", { x: labelWidth + barWidth + 8, y: y + 15, class: "bar-label" }, pct(r.on_time_pct)));
    });
    const axisY = rows.length * rowHeight + 8;
    chart.append(svg("line", { x1: labelWidth, x2: labelWidth + barWidth, y1: axisY, y2: axisY, class: "axis" }));
    for (const tick of [0, 50, 100]) {
      const x = labelWidth + (barWidth * tick) / 100;
      chart.append(svg("text", { x: x - 8, y: axisY + 14 }, `${tick}%`));
    }
    holder.append(chart);
  }

  function fillOpdChoices(data) {
    const select = $("#f-opd");
    const chosen = select.value;
    if (chosen && data.opd) return; // a filtered answer lists one OPD: keep the full list
    const rows = data.pemda === null ? [] : data.items;
    const options = rows.map((r) => r.scope);
    select.replaceChildren(new Option("Semua OPD", ""), ...rows.map((r) => new Option(opdLabel(r.scope, r.opd_name), r.scope)));
    select.value = options.includes(chosen) ? chosen : "";
  }

  // --- breaches ---------------------------------------------------------------------------------

  function breachCells(b) {
    return [
      cell(b.complaint_id, "text"),
      cell(CLOCK_LABELS[b.clock] || b.clock, "text"),
      cell(opdLabel(b.opd_id, b.opd_name), "text"),
      cell(when(b.due_at), "text"),
      cell(b.open ? "terlambat, masih terbuka" : STATE_LABELS[b.state] || b.state, b.open ? "text open" : "text"),
      cell(num(b.late_days, 2), "late"),
      cell(num(b.late_hk, 2)),
    ];
  }

  async function loadBreaches(reset) {
    if (reset) {
      breachCursor = null;
      $("#breach-table tbody").replaceChildren();
    }
    const data = await api("breaches", params({ clock: $("#f-clock").value, cursor: breachCursor, limit: "25" }));
    const body = $("#breach-table tbody");
    if (reset && !data.items.length) {
      const td = cell("Tidak ada pelanggaran.", "text muted");
      td.colSpan = 7;
      body.append(makeRow([td]));
    }
    for (const b of data.items) {
      const tr = makeRow(breachCells(b));
      tr.dataset.clockId = b.clock_id;
      body.append(tr);
    }
    breachCursor = data.next_cursor;
    $("#more-breaches").hidden = !breachCursor;
  }

  // --- escalations, trend, satisfaction -----------------------------------------------------------

  function renderEscalations(data) {
    fillTable(
      "#escalation-table",
      data.items,
      (e) => [
        cell(e.complaint_id, "text"),
        cell(`${e.level} — ${e.level_label}`, `text level-${e.level}`),
        cell(opdLabel(e.opd_id, e.opd_name), "text"),
        cell(opdLabel(e.current_opd_id, e.current_opd_name), "text"),
        cell(when(e.raised_at), "text"),
        cell(e.reason || "–", "text"),
      ],
      "Tidak ada pengaduan tereskalasi.",
      6,
    );
  }

  function renderTrend(data) {
    const holder = $("#trend-chart");
    holder.replaceChildren();
    const weeks = data.items;
    const width = 900;
    const height = 240;
    const left = 40;
    const bottom = 200;
    const step = (width - left - 40) / Math.max(weeks.length, 1);
    const most = Math.max(1, ...weeks.map((w) => w.met + w.breached));
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, "data-weeks": weeks.length });
    chart.append(svg("line", { x1: left, x2: width - 30, y1: bottom, y2: bottom, class: "axis" }));
    chart.append(svg("text", { x: 0, y: 14 }, `${most}`));
    chart.append(svg("text", { x: width - 30, y: 14 }, "100%"));
    const points = [];
    weeks.forEach((w, i) => {
      const x = left + i * step + step * 0.15;
      const barWidth = step * 0.7;
      const metHeight = ((bottom - 20) * w.met) / most;
      const breachedHeight = ((bottom - 20) * w.breached) / most;
      chart.append(svg("rect", { x, y: bottom - metHeight, width: barWidth, height: metHeight, class: "bar-met" }));
      chart.append(
        svg("rect", {
          x, y: bottom - metHeight - breachedHeight, width: barWidth, height: breachedHeight, class: "bar-breached",
        }),
      );
      chart.append(svg("text", { x, y: bottom + 16 }, w.week.slice(5)));
      if (w.on_time_pct !== null) {
        const y = bottom - ((bottom - 20) * w.on_time_pct) / 100;
        points.push(`${x + barWidth / 2},${y}`);
        chart.append(svg("circle", { cx: x + barWidth / 2, cy: y, r: 3, class: "trend-dot" }));
      }
    });
    if (points.length > 1) chart.append(svg("polyline", { points: points.join(" "), class: "trend-line" }));
    holder.append(chart);
  }

  function renderSatisfaction(data) {
    fillTable(
      "#satisfaction-table",
      data.items,
      (s) => [
        cell(opdLabel(s.scope, s.opd_name), "text"),
        cell(num(s.ratings)),
        cell(num(s.average, 2)),
        ...[1, 2, 3, 4, 5].map((n) => cell(num(s.distribution[String(n)]))),
      ],
      "Belum ada penilaian.",
      8,
    );
  }

  // --- misrouting and the classifier's accuracy ---------------------------------------------------

  function renderMisrouting(data) {
    fillTable(
      "#misrouting-table",
      data.items,
      (r) => [
        cell(r.scope, "text"),
        cell(num(r.assigned)),
        cell(num(r.transfers_out)),
        cell(num(r.transfers_in)),
        cell(pct(r.transferred_out_pct)),
        cell(hk(r.lost_hk)),
        cell(hk(r.lost_hk_per_transfer)),
      ],
      "Belum ada penugasan.",
      7,
    );
  }

  // A pemda's figure (its coordinator's corrections): asked only for a whole pemda, never for one OPD.
  function classifierPath() {
    const c = person || {};
    const pemda = $("#f-pemda").value.trim();
    if (!pemda || c.opd || $("#f-opd").value) return null;
    return `classifier/${encodeURIComponent(pemda)}`;
  }

  function periodOnly() {
    const p = new URLSearchParams();
    for (const [name, id] of [["from", "#f-from"], ["to", "#f-to"]]) {
      const value = $(id).value.trim();
      if (value) p.set(name, value);
    }
    return p;
  }

  function renderClassifier(data) {
    $("#classifier").hidden = !data;
    if (!data) return;
    fillTable(
      "#classifier-table",
      data.items,
      (m) => [
        cell(m.month, "text"),
        cell(num(m.classified)),
        cell(num(m.auto_routed)),
        cell(num(m.reviewed)),
        cell(num(m.corrected)),
        cell(pct(m.accuracy_pct)),
        cell(pct(m.reviewed_accuracy_pct)),
      ],
      "Belum ada klasifikasi.",
      7,
    );
  }

  function renderIkm(data) {
    fillTable(
      "#ikm-table",
      data.items,
      (r) => [
        cell(r.scope, "text"),
        cell(num(r.respondents)),
        ...["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"].map((u) => cell(num(r.elements[u], 2))),
        cell(num(r.ikm, 2)),
        cell(r.grade ? `${r.grade} (${r.label})` : "–", "text"),
      ],
      "Belum ada survei kepuasan masyarakat.",
      13,
    );
  }

  // --- wiring -----------------------------------------------------------------------------------

  function showError(message) {
    const box = $("#error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function loadAll() {
    showError("");
    if (!signedIn) {
      showError("Masuk terlebih dahulu.");
      return;
    }
    $("#status").textContent = "Memuat…";
    document.body.dataset.loading = "1";
    try {
      const query = params();
      const classifier = classifierPath();
      const [compliance, escalations, trend, satisfaction, misrouting, accuracy, ikm] = await Promise.all([
        api("compliance", query),
        api("escalations", query),
        api("trend", query),
        api("satisfaction", query),
        api("misrouting", query),
        classifier ? api(classifier, periodOnly()) : null,
        api("ikm", monthParams()),
        loadBreaches(true),
      ]);
      renderCompliance(compliance);
      renderEscalations(escalations);
      renderTrend(trend);
      renderSatisfaction(satisfaction);
      renderMisrouting(misrouting);
      renderClassifier(accuracy);
      renderIkm(ikm);
      $("#status").textContent = `Diperbarui ${new Date().toLocaleTimeString("id-ID")}`;
    } catch (error) {
      showError(`Gagal memuat: ${error.message}`);
      $("#status").textContent = "";
    } finally {
      delete document.body.dataset.loading;
      document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
    }
  }

  async function downloadCsv(kind) {
    try {
      const extra = kind === "breaches" ? { clock: $("#f-clock").value } : {};
      const path = kind === "classifier" ? classifierPath() : kind;
      if (!path) return;
      const query =
        kind === "classifier" ? periodOnly() : kind === "ikm" ? monthParams(extra) : params(extra);
      const blob = await api(path, query, "text/csv");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${kind}.csv`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      showError(`Gagal mengunduh CSV: ${error.message}`);
    }
  }

  async function start() {
    $("#filters").addEventListener("submit", (event) => {
      event.preventDefault();
      loadAll();
    });
    $("#f-pemda").addEventListener("change", () => {
      $("#f-opd").value = "";
    });
    $("#f-clock").addEventListener("change", () => loadBreaches(true).catch((e) => showError(e.message)));
    $("#more-breaches").addEventListener("click", () => loadBreaches(false).catch((e) => showError(e.message)));
    for (const button of document.querySelectorAll("[data-csv]")) {
      button.addEventListener("click", () => downloadCsv(button.dataset.csv));
    }
    if (await showWho()) loadAll();
  }

  start();
})();
