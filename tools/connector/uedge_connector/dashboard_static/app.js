// uedge connector dashboard: devices, channels, live SVG plots, control, config editors.
// Plain browser JavaScript, no library, no build step. Data comes from /api/dashboard/.
"use strict";

const POLL_MS = 2000;
const FULL_RELOAD_MS = 30000;
const COLORS = ["#2563eb", "#dc2626", "#059669", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const UNITS = {
  DEG_CELSIUS: "°C", DEG_FAHRENHEIT: "°F", KELVIN: "K", PERCENT: "%", BAR: "bar", PSI: "psi",
  PASCAL: "Pa", KILOPASCAL: "kPa", LITER: "L", MILLILITER: "mL", CUBIC_METER: "m³", SECOND: "s",
  MILLISECOND: "ms", MINUTE: "min", HOUR: "h", VOLT: "V", MILLIVOLT: "mV", AMPERE: "A",
  MILLIAMP: "mA", WATT: "W", KILOWATT: "kW", KILOWATT_HOUR: "kWh", HERTZ: "Hz", METER: "m",
  MILLIMETER: "mm", RPM: "rpm", LITERS_PER_MINUTE: "L/min", LAT_LONG: "lat/lng",
};

const S = {
  devices: [], deviceId: null, view: null, plotted: null, windowS: 300, live: true,
  series: {}, errors: {}, lastTs: null, lastFull: 0, controls: {}, tab: "channels",
  loaded: {}, busy: false,
};

const $ = (sel, root) => (root || document).querySelector(sel);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "bg") e.style.background = v;  // CSSOM: allowed under the page's CSP
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const sv = (tag, attrs) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};

// ------------------------------------------------------------------ fetch

async function api(path, opts) {
  const r = await fetch(path, Object.assign({credentials: "same-origin", cache: "no-store"}, opts || {}));
  if (r.status === 401) { location.href = "/dashboard/login"; throw new Error("login needed"); }
  const type = r.headers.get("content-type") || "";
  const body = type.startsWith("application/json") ? await r.json() : await r.text();
  if (!r.ok && !(body && typeof body === "object" && "ok" in body)) {
    throw new Error(typeof body === "string" ? body : JSON.stringify(body));
  }
  return body;
}
const devPath = (id) => "/api/dashboard/devices/" + encodeURIComponent(id);

// ------------------------------------------------------------------ formatting

function unitText(u) { return u ? (UNITS[u] || u.toLowerCase().replace(/_/g, " ")) : ""; }

function fmtValue(v, ch) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (ch && Number.isInteger(ch.precision)) return v.toFixed(ch.precision);
    return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "lat" in v && "lng" in v) return v.lat + ", " + v.lng;
  return JSON.stringify(v);
}

function fmtAge(tsUs, nowUs) {
  if (!tsUs) return "never";
  const s = Math.max(0, (nowUs - tsUs) / 1e6);
  if (s < 1) return "just now";
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function fmtClock(tsUs) {
  const d = new Date(tsUs / 1000);
  const p = (n) => String(n).padStart(2, "0");
  return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}

function fmtTime(tsUs) { return new Date(tsUs / 1000).toLocaleString(); }

const plottable = (ch) => ch.kind === "number" || ch.kind === "boolean";

// ------------------------------------------------------------------ control checks (before sending)

function parseControl(ch, raw) {
  // -> {value} or {error}; the same rules as the connector and the device apply
  const id = ch.id;
  let v;
  if (ch.kind === "boolean") {
    const s = String(raw).trim().toLowerCase();
    if (["true", "1", "on", "yes"].includes(s)) v = true;
    else if (["false", "0", "off", "no"].includes(s)) v = false;
    else return {error: "channel " + id + ": expected a boolean, got " + JSON.stringify(raw)};
  } else if (ch.kind === "number") {
    const s = String(raw).trim();
    v = s === "" ? NaN : Number(s);
    if (!Number.isFinite(v)) return {error: "channel " + id + ": expected a number, got " + JSON.stringify(raw)};
    const r = ch.range || {};
    if (r.min !== null && r.min !== undefined && v < r.min)
      return {error: "channel " + id + ": " + v + " is below control_properties.range.min " + r.min};
    if (r.max !== null && r.max !== undefined && v > r.max)
      return {error: "channel " + id + ": " + v + " is above control_properties.range.max " + r.max};
  } else if (ch.kind === "string") {
    v = String(raw);
  } else {
    try { v = JSON.parse(raw); } catch (e) { return {error: "channel " + id + ": not JSON: " + e.message}; }
    if (ch.kind === "location" && !(v && typeof v.lat === "number" && typeof v.lng === "number"))
      return {error: "channel " + id + ': expected {"lat": number, "lng": number}'};
  }
  if (Array.isArray(ch.enum) && ch.kind !== "json") {
    const items = ch.enum.map((item) => {
      if (ch.kind === "number") return Number(item);
      if (ch.kind === "boolean") return ["true", "1", "on", "yes"].includes(String(item).toLowerCase());
      return item;
    });
    if (!items.some((it) => it === v))
      return {error: "channel " + id + ": " + JSON.stringify(v) + " is not one of " + ch.enum.join(", ")};
  }
  return {value: v};
}

// ------------------------------------------------------------------ devices

function renderStatus(st) {
  const p = st.ports || {};
  const bits = ["auth: " + st.auth];
  for (const k of ["mqtt", "mqtts", "https", "http"]) if (p[k]) bits.push(k + " " + p[k]);
  $("#status").textContent = bits.join(" · ");
  $("#logout").hidden = !st.login;
}

function stateBadges(d) {
  const out = [];
  out.push(el("span", {class: "badge " + (d.provisioned ? "ok" : "off"), text: d.provisioned ? "provisioned" : "not provisioned"}));
  out.push(el("span", {class: "badge " + (d.connected ? "ok live" : "off"),
                       text: d.connected ? "connected" + (d.connected > 1 ? " ×" + d.connected : "") : "not connected"}));
  if (d.auth) out.push(el("span", {class: "badge info", text: d.auth + " auth"}));
  if (d.whitelisted) out.push(el("span", {class: "badge info", text: "whitelisted"}));
  return out;
}

function renderDevices(nowUs) {
  const tb = $("#devices tbody");
  tb.textContent = "";
  for (const d of S.devices) {
    const dot = el("span", {class: "dot " + (d.connected ? "on" : d.provisioned ? "idle" : "off")});
    const tr = el("tr", {"data-device": d.id, class: d.id === S.deviceId ? "selected" : null,
                         onclick: () => selectDevice(d.id)},
      el("td", {}, dot, el("span", {class: "dev-id", text: d.id})),
      el("td", {class: "state"}, d.connected ? "connected" : d.provisioned ? "provisioned" : "not provisioned",
         el("div", {class: "muted small", text: d.auth ? d.auth + " auth" : "no credential"})),
      el("td", {class: "seen", text: fmtAge(d.last_seen_us, nowUs)}));
    tb.append(tr);
  }
  $("#no-devices").hidden = S.devices.length > 0;
}

function selectDevice(id) {
  if (S.deviceId === id) return;
  S.deviceId = id;
  S.view = null; S.plotted = null; S.picked = false; S.series = {}; S.errors = {}; S.lastTs = null; S.controls = {};
  S.loaded = {};
  history.replaceState(null, "", "#device=" + encodeURIComponent(id));
  refresh(true);
}

// ------------------------------------------------------------------ device view

function renderDevice() {
  const v = S.view;
  const d = v.device;
  $("#device").hidden = false;
  $("#empty").hidden = true;
  $("#device-id").textContent = d.id;
  const badges = $("#device-badges");
  badges.textContent = "";
  badges.append(...stateBadges(d));
  const facts = $("#device-facts");
  facts.textContent = "";
  const fact = (k, val) => facts.append(el("dt", {text: k}), el("dd", {text: val}));
  fact("last seen", d.last_seen_us ? fmtAge(d.last_seen_us, v.now_us) : "never");
  fact("data_in reports", String(v.data_in.reports));
  fact("data_in points", String(v.data_in.points));
  fact("provisioned", d.provisioned_us ? fmtTime(d.provisioned_us) : "–");
  $("#counts").textContent = v.data_in.points + " points in " + v.data_in.reports + " data_in reports stored";
  if (!S.picked) {
    // until the user picks: the first numeric readings (not controls or diagnostics) on the plot
    const auto = v.channels.filter((c) => c.kind === "number" && !c.control && !c.device_diagnostic)
      .slice(0, 2).map((c) => c.id);
    if (S.plotted === null || auto.join() !== S.plotted.join()) S.plotted = auto;
  }
  renderChannels();
  renderControls();
  renderDeviceErrors();
}

function renderChannels() {
  const v = S.view;
  const tb = $("#channels tbody");
  tb.textContent = "";
  let colorIdx = 0;
  const colorOf = {};
  for (const id of S.plotted) colorOf[id] = COLORS[colorIdx++ % COLORS.length];
  for (const ch of v.channels) {
    const on = S.plotted.includes(ch.id);
    const box = el("input", {type: "checkbox", class: "plot-toggle", "data-channel": ch.id,
                             checked: on, disabled: !plottable(ch),
                             title: plottable(ch) ? "put on the plot" : "not a numeric channel"});
    box.addEventListener("change", () => {
      S.picked = true;
      if (box.checked) S.plotted.push(ch.id);
      else S.plotted = S.plotted.filter((x) => x !== ch.id);
      loadSeries(true);
      renderChannels();
    });
    const swatch = on ? el("span", {class: "swatch", bg: colorOf[ch.id]}) : null;
    const name = el("td", {class: "name"}, swatch,
      el("span", {class: "display", text: ch.display_name}),
      el("span", {class: "cid", text: ch.id}),
      ch.control ? el("span", {class: "tag", text: "control"}) : null,
      ch.device_diagnostic ? el("span", {class: "tag", text: "diagnostic"}) : null,
      ch.not_in_config ? el("span", {class: "tag warn", text: "not in config_io"}) : null);
    if (ch.description) name.title = ch.description;
    const lt = ch.latest;
    const err = ch.error;
    const errCell = el("td", {class: "error"});
    if (err) {
      errCell.append(el("span", {class: "err-msg", text: err.message}),
                     el("div", {class: "muted small", text: fmtAge(err.ts_us, v.now_us)}));
      if (!lt || err.ts_us >= lt.ts_us) errCell.classList.add("current");
    }
    const csvHref = devPath(v.device.id) + "/csv?channel=" + encodeURIComponent(ch.id) + windowQuery();
    const tr = el("tr", {"data-channel": ch.id, class: err && (!lt || err.ts_us >= lt.ts_us) ? "has-error" : null},
      el("td", {class: "plotcol"}, box),
      name,
      el("td", {class: "num value", text: lt ? fmtValue(lt.value, ch) : "–"}),
      el("td", {class: "unit", title: ch.data_unit || "", text: unitText(ch.data_unit)}),
      el("td", {class: "age", title: lt ? fmtTime(lt.ts_us) : "", text: lt ? fmtAge(lt.ts_us, v.now_us) : "no data"}),
      el("td", {class: "spark"}, plottable(ch) ? sparkline(ch.id) : el("span", {class: "muted small", text: ch.kind})),
      errCell,
      el("td", {}, el("a", {class: "csv", href: csvHref, download: "", text: "CSV",
                            title: "history of this channel in the chosen window as CSV"})));
    tb.append(tr);
  }
}

function renderDeviceErrors() {
  const box = $("#device-errors");
  box.textContent = "";
  for (const e of S.view.device_errors) {
    box.append(el("div", {class: "device-error", "data-key": e.key},
      el("strong", {text: "__error." + e.key}), " ", el("span", {text: e.message}),
      el("span", {class: "muted small", text: " · " + fmtAge(e.ts_us, S.view.now_us)})));
  }
}

// ------------------------------------------------------------------ control

function renderControls() {
  const v = S.view;
  const chans = v.channels.filter((c) => c.control);
  $("#controls-card").hidden = chans.length === 0;
  const box = $("#controls");
  for (const ch of chans) {
    let form = box.querySelector('form[data-channel="' + CSS.escape(ch.id) + '"]');
    if (!form) {
      form = buildControl(ch);
      box.append(form);
    }
    form.querySelector(".current").textContent = "now: " + (ch.latest ? fmtValue(ch.latest.value, ch) + " " + unitText(ch.data_unit) : "–");
  }
  for (const form of [...box.querySelectorAll("form")]) {
    if (!chans.some((c) => c.id === form.dataset.channel)) form.remove();
  }
}

function buildControl(ch) {
  let input;
  const hint = [];
  if (ch.kind === "boolean") {
    input = el("select", {class: "control-value", name: "value"},
               el("option", {value: "true", text: "true"}), el("option", {value: "false", text: "false"}));
  } else {
    input = el("input", {class: "control-value", name: "value", autocomplete: "off",
                         type: "text", inputmode: ch.kind === "number" ? "decimal" : null,
                         placeholder: ch.kind === "number" ? "number" : ch.kind});
    if (Array.isArray(ch.enum)) {
      input.setAttribute("list", "enum-" + ch.id.replace(/[^A-Za-z0-9_-]/g, "_"));
      hint.push("one of " + ch.enum.join(", "));
    }
  }
  const r = ch.range || {};
  if (ch.kind === "number") {
    if (r.min !== null && r.min !== undefined) hint.push("min " + r.min);
    if (r.max !== null && r.max !== undefined) hint.push("max " + r.max);
  }
  const status = el("div", {class: "control-status", role: "status"});
  const form = el("form", {class: "control", "data-channel": ch.id, novalidate: true},
    el("div", {class: "control-name"}, el("strong", {text: ch.display_name}), el("span", {class: "cid", text: ch.id}),
       el("div", {class: "muted small current"})),
    el("div", {class: "control-input"}, input, el("span", {class: "unit", text: unitText(ch.data_unit)}),
       el("button", {type: "submit", class: "primary", text: "Send"})),
    el("div", {class: "muted small hint", text: [ch.kind].concat(hint).join(" · ")}),
    status);
  if (Array.isArray(ch.enum) && ch.kind !== "boolean") {
    const listId = "enum-" + ch.id.replace(/[^A-Za-z0-9_-]/g, "_");
    form.append(el("datalist", {id: listId}, ...ch.enum.map((x) => el("option", {value: x}))));
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); sendControl(ch.id, form); });
  return form;
}

async function sendControl(cid, form) {
  const ch = S.view.channels.find((c) => c.id === cid);
  const status = form.querySelector(".control-status");
  const raw = form.querySelector(".control-value").value;
  const checked = parseControl(ch, raw);
  status.className = "control-status";
  if (checked.error) {
    status.classList.add("refused");
    status.textContent = "refused, not sent: " + checked.error;
    return;
  }
  status.textContent = "sending…";
  const res = await api(devPath(S.deviceId) + "/control", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({channel: cid, value: checked.value}),
  });
  if (!res.ok) {
    status.classList.add("refused");
    status.textContent = "refused by the connector: " + res.error;
    return;
  }
  const c = {ts: res.ts_us, sent: res.data_out, ack: null, echo: null, error: null, started: Date.now()};
  S.controls[cid] = c;
  showControl(cid, form);
  followControl(cid, form);
}

function showControl(cid, form) {
  const c = S.controls[cid];
  const ch = S.view.channels.find((x) => x.id === cid);
  const status = form.querySelector(".control-status");
  status.textContent = "";
  status.className = "control-status";
  const step = (label, done, text) => el("div", {class: "step " + (done ? "done" : "wait"), "data-step": label},
    el("span", {class: "mark", text: done ? "✓" : "…"}), el("strong", {text: label + " "}), el("span", {text: text}));
  status.append(step("sent", true, "data_out " + c.sent + " at " + fmtClock(c.ts)));
  status.append(step("ack", !!c.ack, c.ack ? "device wrote data_out back at " + fmtClock(c.ack.ts_us) : "waiting for the device"));
  const echoed = !!(c.echo && c.echo.matches);
  status.append(step("echo", echoed, c.echo ? "data_in " + cid + " = " + fmtValue(c.echo.value, ch) + " at " + fmtClock(c.echo.ts_us) +
                                              (echoed ? "" : " (not the requested value yet)")
                                            : "waiting for the new state in data_in"));
  if (c.error) {
    status.append(el("div", {class: "step failed", "data-step": "error"},
      el("span", {class: "mark", text: "✗"}), el("strong", {text: "device error "}), el("span", {text: c.error.message})));
  }
  if (c.ack && echoed) status.classList.add("complete");
}

async function followControl(cid, form) {
  const c = S.controls[cid];
  while (S.controls[cid] === c && !(c.ack && c.echo && c.echo.matches) && !c.error && Date.now() - c.started < 120000) {
    await sleep(700);
    try {
      const st = await api(devPath(S.deviceId) + "/control?ts=" + c.ts + "&channel=" + encodeURIComponent(cid));
      c.ack = st.ack; c.echo = st.echo; c.error = st.error;
      if (S.controls[cid] === c) showControl(cid, form);
    } catch (e) { /* the next poll tries again */ }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ series + plots

function windowQuery() {
  if (!S.windowS) return "";
  const since = Math.floor((Date.now() / 1000 - S.windowS) * 1e6);
  return "&since=" + since;
}

async function loadSeries(full) {
  if (!S.view) return;
  const ids = S.view.channels.filter(plottable).map((c) => c.id);
  if (!ids.length) { drawChart(); return; }
  if (ids.join() !== S.seriesKey) { full = true; S.seriesKey = ids.join(); }
  const incremental = !full && S.lastTs !== null;
  let q = "?channels=" + ids.map(encodeURIComponent).join(",") + "&max=1500";
  if (incremental) q += "&since=" + (S.lastTs + 1);
  else q += windowQuery();
  const res = await api(devPath(S.deviceId) + "/series" + q);
  if (!incremental) { S.series = {}; S.errors = {}; S.lastFull = Date.now(); }
  for (const [cid, pts] of Object.entries(res.series)) S.series[cid] = (S.series[cid] || []).concat(pts);
  for (const [cid, errs] of Object.entries(res.errors)) S.errors[cid] = (S.errors[cid] || []).concat(errs);
  if (res.until_us !== null) S.lastTs = Math.max(S.lastTs || 0, res.until_us);
  // keep only the window
  if (S.windowS) {
    const cut = res.now_us - S.windowS * 1e6;
    for (const cid of Object.keys(S.series)) S.series[cid] = S.series[cid].filter((p) => p[0] >= cut);
    for (const cid of Object.keys(S.errors)) S.errors[cid] = S.errors[cid].filter((p) => p[0] >= cut);
  }
  S.nowUs = res.now_us;
  drawChart();
  for (const cell of document.querySelectorAll("#channels td.spark")) {
    const cid = cell.parentElement.dataset.channel;
    const ch = S.view.channels.find((c) => c.id === cid);
    if (ch && plottable(ch)) { cell.textContent = ""; cell.append(sparkline(cid)); }
  }
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let t = start; t <= end + step / 2; t += step) ticks.push(Math.round(t / step) * step);
  return {lo: start, hi: end, ticks, step};
}

function tickLabel(v, step) {
  const dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(dec, 6));
}

function timeTicks(t0, t1, n) {
  const spanS = (t1 - t0) / 1e6;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = steps.find((s) => spanS / s <= n) || 86400 * Math.ceil(spanS / n / 86400);
  const ticks = [];
  const first = Math.ceil(t0 / 1e6 / step) * step;
  for (let s = first; s * 1e6 <= t1; s += step) ticks.push(s * 1e6);
  return ticks;
}

function drawChart() {
  const svg = $("#chart");
  if (!svg || !S.view) return;
  const W = svg.clientWidth || 800;
  const H = svg.clientHeight || 300;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.textContent = "";
  const chans = S.plotted.map((id) => S.view.channels.find((c) => c.id === id)).filter(Boolean);
  const legend = $("#legend");
  legend.textContent = "";
  const now = S.nowUs || S.view.now_us;
  let t1 = now;
  let t0 = S.windowS ? now - S.windowS * 1e6 : null;
  if (t0 === null) {
    let min = Infinity;
    for (const ch of chans) for (const p of S.series[ch.id] || []) min = Math.min(min, p[0]);
    t0 = Number.isFinite(min) ? min : now - 300e6;
  }
  if (t1 - t0 < 1e6) t0 = t1 - 1e6;
  // axes: the first plotted unit on the left, everything else on the right
  const groups = [];
  for (const ch of chans) {
    const key = ch.kind === "boolean" ? "BOOLEAN" : (ch.data_unit || ch.data_type || "");
    let g = groups.find((x) => x.key === key);
    if (!g) {
      if (groups.length < 2) { g = {key, chans: [], unit: ch.kind === "boolean" ? "on/off" : unitText(ch.data_unit)}; groups.push(g); }
      else g = groups[1];
    }
    g.chans.push(ch);
  }
  for (const g of groups) {
    let lo = Infinity, hi = -Infinity;
    for (const ch of g.chans) for (const p of S.series[ch.id] || []) {
      if (p[0] < t0) continue;
      lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]);
    }
    if (g.key === "BOOLEAN") { lo = 0; hi = 1; }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    g.scale = niceTicks(lo, hi, 5);
  }
  const padL = 56, padR = groups.length > 1 ? 56 : 16, padT = 14, padB = 28;
  const pw = W - padL - padR, ph = H - padT - padB;
  const x = (t) => padL + (t - t0) / (t1 - t0) * pw;
  const yOf = (g) => (v) => padT + ph - (v - g.scale.lo) / (g.scale.hi - g.scale.lo) * ph;

  const grid = sv("g", {class: "grid"});
  svg.append(grid);
  for (const t of timeTicks(t0, t1, Math.max(2, Math.floor(pw / 90)))) {
    grid.append(sv("line", {x1: x(t), x2: x(t), y1: padT, y2: padT + ph}));
    const lab = sv("text", {x: x(t), y: H - 8, class: "tick", "text-anchor": "middle"});
    lab.textContent = fmtClock(t);
    svg.append(lab);
  }
  groups.forEach((g, gi) => {
    const y = yOf(g);
    for (const v of g.scale.ticks) {
      if (gi === 0) grid.append(sv("line", {x1: padL, x2: padL + pw, y1: y(v), y2: y(v)}));
      const lab = sv("text", {x: gi === 0 ? padL - 8 : padL + pw + 8, y: y(v) + 4, class: "tick",
                              "text-anchor": gi === 0 ? "end" : "start"});
      lab.textContent = g.key === "BOOLEAN" ? (v === 1 ? "on" : v === 0 ? "off" : "") : tickLabel(v, g.scale.step);
      svg.append(lab);
    }
    const u = sv("text", {x: gi === 0 ? 8 : W - 8, y: padT + 2, class: "axis-unit",
                          "text-anchor": gi === 0 ? "start" : "end"});
    u.textContent = g.unit;
    svg.append(u);
  });
  svg.append(sv("rect", {x: padL, y: padT, width: pw, height: ph, class: "frame"}));
  if (!chans.length) {
    const t = sv("text", {x: padL + pw / 2, y: padT + ph / 2, class: "empty-note", "text-anchor": "middle"});
    t.textContent = "tick a channel below to plot it";
    svg.append(t);
  }
  const clip = sv("clipPath", {id: "plot-clip"});
  clip.append(sv("rect", {x: padL, y: padT - 2, width: pw, height: ph + 4}));
  svg.append(clip);
  const layer = sv("g", {"clip-path": "url(#plot-clip)"});
  svg.append(layer);
  const drawn = [];
  chans.forEach((ch, i) => {
    const color = COLORS[i % COLORS.length];
    const g = groups.find((gg) => gg.chans.includes(ch));
    const y = yOf(g);
    const pts = (S.series[ch.id] || []).filter((p) => p[0] >= t0 - 1);
    let d = "";
    pts.forEach((p, k) => {
      const px = x(p[0]).toFixed(1), py = y(p[1]).toFixed(1);
      if (k === 0) d += "M" + px + " " + py;
      else if (ch.kind === "boolean") d += "H" + px + "V" + py;
      else d += "L" + px + " " + py;
    });
    if (ch.kind === "boolean" && pts.length) d += "H" + x(t1).toFixed(1);
    layer.append(sv("path", {d: d || "M0 0", class: "series", stroke: color, "data-channel": ch.id,
                             "data-points": String(pts.length)}));
    if (pts.length && pts.length < 80) {
      for (const p of pts) layer.append(sv("circle", {cx: x(p[0]), cy: y(p[1]), r: 2.2, fill: color, class: "pt"}));
    }
    for (const e of S.errors[ch.id] || []) {
      if (e[0] < t0) continue;
      const m = sv("path", {d: "M" + x(e[0]) + " " + (padT + ph) + "l-5 9h10z", class: "err-mark",
                            "data-channel": ch.id});
      const title = sv("title", {});
      title.textContent = ch.display_name + " (" + ch.id + ") error at " + fmtClock(e[0]) + ": " + e[1];
      m.append(title);
      svg.append(m);
      layer.append(sv("line", {x1: x(e[0]), x2: x(e[0]), y1: padT, y2: padT + ph, class: "err-line"}));
    }
    drawn.push({ch, color, pts, y});
    const last = pts.length ? pts[pts.length - 1][1] : null;
    legend.append(el("span", {class: "legend-item", "data-channel": ch.id},
      el("span", {class: "swatch", bg: color}),
      ch.display_name + (last !== null ? "  " + fmtValue(ch.kind === "boolean" ? !!last : last, ch) + " " + unitText(ch.data_unit) : ""),
      (S.errors[ch.id] || []).length ? el("span", {class: "legend-err", text: " ⚠ " + S.errors[ch.id].length}) : null));
  });
  attachHover(svg, {x, t0, t1, padL, pw, padT, ph, drawn});
}

function attachHover(svg, g) {
  const tip = $("#tooltip");
  const cursor = sv("line", {y1: g.padT, y2: g.padT + g.ph, class: "cursor", visibility: "hidden"});
  svg.append(cursor);
  svg.onmouseleave = () => { tip.hidden = true; cursor.setAttribute("visibility", "hidden"); };
  svg.onmousemove = (ev) => {
    const r = svg.getBoundingClientRect();
    const px = (ev.clientX - r.left) * (svg.viewBox.baseVal.width / r.width);
    if (px < g.padL || px > g.padL + g.pw || !g.drawn.length) { svg.onmouseleave(); return; }
    const t = g.t0 + (px - g.padL) / g.pw * (g.t1 - g.t0);
    tip.textContent = "";
    tip.append(el("div", {class: "tip-time", text: fmtClock(t)}));
    for (const s of g.drawn) {
      let best = null;
      for (const p of s.pts) if (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
      if (!best) continue;
      const v = s.ch.kind === "boolean" ? !!best[1] : best[1];
      tip.append(el("div", {}, el("span", {class: "swatch", bg: s.color}),
        s.ch.display_name + ": " + fmtValue(v, s.ch) + " " + unitText(s.ch.data_unit)));
    }
    cursor.setAttribute("x1", px); cursor.setAttribute("x2", px);
    cursor.setAttribute("visibility", "visible");
    tip.hidden = false;
    const left = ev.clientX - r.left + 14;
    tip.style.left = Math.min(left, r.width - tip.offsetWidth - 4) + "px";
    tip.style.top = (ev.clientY - r.top + 10) + "px";
  };
}

function sparkline(cid) {
  const W = 120, H = 26;
  const s = sv("svg", {class: "sparkline", viewBox: "0 0 " + W + " " + H, width: W, height: H, "data-channel": cid});
  const ch = S.view.channels.find((c) => c.id === cid);
  const pts = S.series[cid] || [];
  if (pts.length < 1) return s;
  const t1 = S.nowUs || S.view.now_us;
  const t0 = pts[0][0];  // the trend spans the data of the window
  let lo = Infinity, hi = -Infinity;
  for (const p of pts) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
  if (ch.kind === "boolean") { lo = 0; hi = 1; }
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (t) => 1 + (t - t0) / Math.max(1, t1 - t0) * (W - 2);
  const y = (v) => H - 3 - (v - lo) / (hi - lo) * (H - 6);
  let d = "";
  pts.forEach((p, k) => {
    const px = x(p[0]).toFixed(1), py = y(p[1]).toFixed(1);
    if (k === 0) d += "M" + px + " " + py;
    else if (ch.kind === "boolean") d += "H" + px + "V" + py;
    else d += "L" + px + " " + py;
  });
  s.append(sv("path", {d, class: "spark-line"}));
  for (const e of S.errors[cid] || []) s.append(sv("line", {x1: x(e[0]), x2: x(e[0]), y1: 0, y2: H, class: "err-line"}));
  return s;
}

// ------------------------------------------------------------------ config editors

async function loadConfig(name, force) {
  if (S.loaded[name] && !force) return;
  const res = await api(devPath(S.deviceId) + "/config/" + name);
  S.loaded[name] = true;
  const ta = $("#" + name + "-text");
  let text = res.text || "";
  try { if (text) text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep as is */ }
  ta.value = text;
  const meta = $("#" + name + "-meta");
  meta.textContent = res.ts_us ? "latest from the " + (res.source === "device" ? "device" : "connector side") +
    ", " + fmtAge(res.ts_us, Date.now() * 1000) + (res.valid ? "" : " · currently invalid") : "none stored yet";
  setMessage(name, res.text && !res.valid ? "error" : "", res.text && !res.valid ? res.error : "");
  if (name === "config_applications") renderApps(res.text);
}

function renderApps(text) {
  const box = $("#apps-view");
  box.textContent = "";
  let doc = null;
  try { doc = JSON.parse(text || ""); } catch (e) { return; }
  const apps = (doc && doc.applications) || {};
  for (const [name, app] of Object.entries(apps)) {
    const itfs = Array.isArray(app.interfaces) ? app.interfaces : [];
    const rows = itfs.map((itf) => el("li", {},
      el("code", {text: String(itf.interface || "?")}), " ",
      el("span", {class: "muted", text: Object.entries(itf).filter(([k]) => k !== "interface").map(([k, v]) => k + "=" + v).join(", ")})));
    box.append(el("div", {class: "app"}, el("strong", {text: app.application_display_name || name}),
      el("span", {class: "cid", text: name}), el("ul", {}, ...rows)));
  }
}

function setMessage(name, kind, text) {
  const box = $("#" + name + "-message");
  box.className = "message " + kind;
  box.textContent = text;
}

async function validateConfig(name) {
  const text = $("#" + name + "-text").value;
  const res = await api("/api/dashboard/validate/" + name, {method: "POST", body: text,
    headers: {"Content-Type": "text/plain; charset=utf-8"}});
  if (res.ok) {
    const sum = res.summary.channels ? res.summary.channels.length + " channels" : res.summary.applications.length + " applications";
    setMessage(name, "ok", "valid (" + sum + ")");
  } else {
    setMessage(name, "error", res.error);
  }
  return res;
}

async function sendConfig(name) {
  const res = await validateConfig(name);
  if (!res.ok) return; // never sent: the validator's message is shown
  let text = $("#" + name + "-text").value;
  if ($("#" + name + "-stamp").checked) {
    try {
      const doc = JSON.parse(text);
      doc.last_edited = new Date().toISOString().replace(/\.\d+Z$/, "+00:00");
      doc.last_editor = "user";
      text = JSON.stringify(doc, null, 2);
      $("#" + name + "-text").value = text;
    } catch (e) { /* text the validator accepts but JSON.parse does not: send as written */ }
  }
  const put = await api(devPath(S.deviceId) + "/config/" + name, {method: "PUT", body: text,
    headers: {"Content-Type": "text/plain; charset=utf-8"}});
  if (put.ok) setMessage(name, "ok", "sent to " + S.deviceId + " at " + fmtClock(put.ts_us) + "; the device validates and applies it (a rejection shows as __error." + name + ")");
  else setMessage(name, "error", put.error);
}

// ------------------------------------------------------------------ loop

async function refresh(full) {
  if (S.busy) return;
  S.busy = true;
  try {
    const ov = await api("/api/dashboard/overview");
    renderStatus(ov.status);
    S.devices = ov.devices;
    if (!S.deviceId) {
      const want = decodeURIComponent((location.hash.match(/device=([^&]+)/) || [])[1] || "");
      const pick = S.devices.find((d) => d.id === want) || S.devices.find((d) => d.connected) || S.devices.find((d) => d.provisioned);
      if (pick) { S.deviceId = pick.id; full = true; }
    }
    renderDevices(ov.now_us);
    if (!S.deviceId) { $("#device").hidden = true; $("#empty").hidden = false; return; }
    S.view = await api(devPath(S.deviceId));
    renderDevice();
    if (S.tab === "channels") {
      if (S.live || full) await loadSeries(full || Date.now() - S.lastFull > FULL_RELOAD_MS);
    } else {
      await loadConfig(S.tab, false);
    }
  } catch (e) {
    $("#status").textContent = "connector unreachable: " + e.message;
  } finally {
    S.busy = false;
  }
}

function showTab(tab) {
  S.tab = tab;
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const p of document.querySelectorAll("[data-pane]")) p.hidden = p.dataset.pane !== tab;
  if (tab === "channels") { loadSeries(true); }
  else if (S.deviceId) loadConfig(tab, false);
}

function init() {
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#window").addEventListener("change", (ev) => { S.windowS = Number(ev.target.value); loadSeries(true); renderChannels(); });
  $("#live").addEventListener("change", (ev) => { S.live = ev.target.checked; });
  for (const name of ["config_io", "config_applications"]) {
    $("#" + name + "-validate").addEventListener("click", () => validateConfig(name));
    $("#" + name + "-send").addEventListener("click", () => sendConfig(name));
    $("#" + name + "-reload").addEventListener("click", () => loadConfig(name, true));
  }
  window.addEventListener("resize", () => drawChart());
  refresh(true);
  setInterval(() => refresh(false), POLL_MS);
}

init();
