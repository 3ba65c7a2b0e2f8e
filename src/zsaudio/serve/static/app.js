// zsaudio web page: choose, drop or record a sound, type labels, show the server's ranking,
// the clip's log-mel spectrogram (computed by the server) and, for a recording longer than
// LONG_SECONDS (or when "timeline" is ticked), each label's probability over time and the events.
// Plain browser JavaScript; nothing is fetched from outside this server.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const LONG_SECONDS = 10; // a recording longer than this is "long" (timeline)
let chosen = null; // {blob, name}
let modelInfo = null;

function setStatus(text) { $("status").textContent = text; }
function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function choose(blob, name) {
  chosen = { blob, name };
  $("file-name").textContent = name;
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(blob);
  player.hidden = false;
  showError("");
}

// --- choosing and dropping files -------------------------------------------------------
const dropzone = $("dropzone");
const fileInput = $("file-input");
dropzone.addEventListener("click", () => fileInput.click());
dropzone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") fileInput.click(); });
fileInput.addEventListener("change", () => {
  if (fileInput.files.length) choose(fileInput.files[0], fileInput.files[0].name);
});
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (e) => { e.preventDefault(); dropzone.classList.add("over"); });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, (e) => { e.preventDefault(); dropzone.classList.remove("over"); });
}
dropzone.addEventListener("drop", (e) => {
  const file = e.dataTransfer.files[0];
  if (file) choose(file, file.name);
});

// --- recording from the microphone (16-bit PCM WAV, which the server decodes) --------------
let recorder = null;

function encodeWav(chunks, sampleRate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * length));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true); view.setUint32(28, 2 * sampleRate, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++, offset += 2) {
      const s = Math.max(-1, Math.min(1, chunk[i]));
      view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

async function startRecording() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser does not allow recording here (it needs a secure page, such as localhost).");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(`The microphone is not available: ${err.message}`);
    return;
  }
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const processor = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  processor.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(context.destination);
  recorder = { stream, context, processor, chunks };
  $("record").textContent = "■ Stop recording";
  $("record").classList.add("recording");
  setStatus("recording…");
}

function stopRecording() {
  const { stream, context, processor, chunks } = recorder;
  processor.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  const wav = encodeWav(chunks, context.sampleRate);
  context.close();
  recorder = null;
  $("record").textContent = "● Record from microphone";
  $("record").classList.remove("recording");
  setStatus("");
  choose(wav, "recording.wav");
}

$("record").addEventListener("click", () => (recorder ? stopRecording() : startRecording()));

// --- talking to the server -------------------------------------------------------------------
async function postForm(path, form) {
  let response;
  try {
    response = await fetch(API + path, { method: "POST", body: form });
  } catch (err) {
    throw new Error(`the server did not answer (${err.message})`);
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `the server answered ${response.status}`);
  }
  return body;
}

function labelCount(text) {
  const parts = /[\r\n]/.test(text) ? text.split(/\r?\n|\r/) : text.split(",");
  return parts.filter((s) => s.trim()).length;
}

async function classify() {
  showError("");
  if (!chosen) { showError("Choose, drop or record a sound first."); return; }
  const labels = $("labels").value;
  const n = labelCount(labels);
  if (!n) { showError("Type at least one candidate label (one per line, or comma-separated)."); return; }
  const form = new FormData();
  form.append("files", chosen.blob, chosen.name);
  form.append("labels", labels);
  form.append("top_k", String(n));
  const specForm = new FormData();
  specForm.append("file", chosen.blob, chosen.name);
  $("classify").disabled = true;
  setStatus("classifying…");
  hideTimeline();
  const started = performance.now();
  const done = () => setStatus(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  let spec;
  try {
    const [result, spectrogram] = await Promise.all([postForm("/classify", form), postForm("/spectrogram", specForm)]);
    spec = spectrogram;
    showRanking(result.results[0]);
    drawSpectrogram(spec);
    $("result-panel").hidden = false;
  } catch (err) {
    setStatus("");
    showError(err.message);
    $("classify").disabled = false;
    return;
  }
  // The ranking and the spectrogram stay shown whatever happens to the timeline.
  try {
    if (spec.duration_seconds > LONG_SECONDS || $("timeline-toggle").checked) {
      if (modelInfo && modelInfo.timeline === false) {
        $("timeline-panel").hidden = false;
        $("timeline-note").textContent =
          "This server cannot show labels over time; the ranking above is for the whole file.";
      } else {
        setStatus("labels over time…");
        const timelineForm = new FormData();
        timelineForm.append("file", chosen.blob, chosen.name);
        timelineForm.append("labels", labels);
        timelineForm.append("top_k", String(Math.min(3, n)));
        drawTimeline(await postForm("/timeline", timelineForm));
      }
    }
    done();
  } catch (err) {
    setStatus("");
    showError(`Timeline: ${err.message}`);
  } finally {
    $("classify").disabled = false;
  }
}

$("classify").addEventListener("click", classify);

// --- drawing the results ---------------------------------------------------------------------
function showRanking(fileResult) {
  const list = $("ranking");
  list.replaceChildren();
  fileResult.ranking.forEach((p, i) => {
    const item = document.createElement("li");
    item.className = "prediction";
    item.dataset.label = p.label;
    item.dataset.probability = String(p.probability);
    item.title = `score ${p.score.toFixed(4)}`;
    const rank = document.createElement("span"); rank.className = "rank"; rank.textContent = `${i + 1}.`;
    const label = document.createElement("span"); label.className = "label"; label.textContent = p.label;
    const bar = document.createElement("div"); bar.className = "bar";
    const fill = document.createElement("span"); fill.style.width = `${(100 * p.probability).toFixed(1)}%`;
    bar.appendChild(fill);
    const prob = document.createElement("span"); prob.className = "prob";
    prob.textContent = `${(100 * p.probability).toFixed(1)} %`;
    item.append(rank, label, bar, prob);
    list.appendChild(item);
  });
}

// A perceptually ordered dark-to-bright colour map (viridis, 5 stops, linear in between).
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
}

function drawSpectrogram(spec) {
  const canvas = $("spectrogram");
  const cols = spec.values.length, rows = spec.n_mels;
  canvas.width = cols; canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  const lo = spec.min, span = Math.max(1e-6, spec.max - spec.min);
  for (let x = 0; x < cols; x++) {
    for (let m = 0; m < rows; m++) {
      const [r, g, b] = colour((spec.values[x][m] - lo) / span);
      const o = 4 * ((rows - 1 - m) * cols + x); // lowest band at the bottom
      image.data[o] = r; image.data[o + 1] = g; image.data[o + 2] = b; image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  $("spectrogram-axis").textContent =
    `${spec.name}: ${spec.duration_seconds.toFixed(2)} s · time → · ${spec.n_mels} mel bands ` +
    `${spec.f_min_hz}–${spec.f_max_hz} Hz (low at the bottom) · log(mel + 0.01) from ${spec.min} to ${spec.max}`;
}

// --- the timeline: each label's probability over time (lines) and the events (bars) -------------
const SVG_NS = $("timeline").namespaceURI; // the SVG namespace, from the page's own <svg>
const MAX_LINES = 8; // labels drawn as lines at most (those with events first, then the likeliest)
// Distinct on white, mostly colour-blind safe; labels beyond them are drawn grey.
const PALETTE = ["#2f6fdb", "#e8710a", "#1a9e4a", "#c2185b", "#7b3fbf", "#00838f", "#8d6e00", "#5f6368"];
const OTHER_COLOUR = "#98a2b3";

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function hideTimeline() {
  $("timeline-panel").hidden = true;
  $("timeline-note").textContent = "";
  for (const id of ["timeline", "timeline-legend", "timeline-events-body"]) $(id).replaceChildren();
  $("timeline-axis").textContent = "";
  $("timeline-events").hidden = true;
}

function tickStep(duration) {
  for (const step of [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800]) {
    if (duration / step <= 12) return step;
  }
  return 3600;
}

function seconds(t) { return `${t.toFixed(2)} s`; }

// Which labels get a line, and their colours: labels with events first (by first onset), then
// the others by their highest probability.
function drawnLabels(tl) {
  const firstOnset = new Map();
  for (const e of tl.events) if (!firstOnset.has(e.label)) firstOnset.set(e.label, e.onset);
  const peak = tl.labels.map((_, c) => Math.max(0, ...tl.probabilities.map((row) => row[c])));
  const order = tl.labels.map((label, c) => ({ label, c, peak: peak[c] }));
  order.sort((a, b) => {
    const ea = firstOnset.has(a.label), eb = firstOnset.has(b.label);
    if (ea !== eb) return ea ? -1 : 1;
    if (ea) return firstOnset.get(a.label) - firstOnset.get(b.label);
    return b.peak - a.peak;
  });
  return order.slice(0, MAX_LINES).map((o, i) => ({ ...o, colour: PALETTE[i % PALETTE.length] }));
}

function drawTimeline(tl) {
  const W = 1000, TOP = 8, H = 160, AXIS = TOP + H + 20, LANE = 24;
  const duration = Math.max(tl.duration_seconds, 1e-6);
  const x = (t) => (Math.max(0, Math.min(duration, t)) / duration) * W;
  const y = (p) => TOP + (1 - p) * H;
  const lines = drawnLabels(tl);
  const colourOf = new Map(lines.map((l) => [l.label, l.colour]));
  const laneLabels = [...new Set(tl.events.map((e) => e.label))];
  const lanesTop = AXIS + 14;
  const height = lanesTop + Math.max(1, laneLabels.length) * LANE + 4;

  const root = $("timeline");
  root.replaceChildren();
  root.setAttribute("viewBox", `0 0 ${W} ${height}`);
  root.dataset.duration = String(tl.duration_seconds);
  svg("rect", { x: 0, y: TOP, width: W, height: H, class: "plot-bg" }, root);
  // probability grid and the threshold
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    svg("line", { x1: 0, x2: W, y1: y(p), y2: y(p), class: "grid" }, root);
  }
  for (const p of [1, 0.5, 0]) {
    const t = svg("text", { x: 4, y: y(p) + (p === 1 ? 14 : -4), class: "tick" }, root);
    t.textContent = String(p);
  }
  const threshold = tl.settings.threshold;
  if (typeof threshold === "number") {
    svg("line", { x1: 0, x2: W, y1: y(threshold), y2: y(threshold), class: "threshold" }, root);
    const t = svg("text", { x: W - 4, y: y(threshold) - 4, class: "tick end" }, root);
    t.textContent = `threshold ${threshold}`;
  }
  // time axis
  const step = tickStep(duration);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    svg("line", { x1: x(t), x2: x(t), y1: TOP, y2: TOP + H + 4, class: "grid" }, root);
    const label = svg("text", { x: x(t), y: AXIS, class: `tick ${t === 0 ? "start" : t + step > duration + 1e-9 ? "end" : "middle"}` }, root);
    label.textContent = `${Number(t.toFixed(1))} s`;
  }
  // one line per drawn label, the likeliest on top
  for (const line of [...lines].reverse()) {
    const points = tl.times.map((t, i) => `${x(t).toFixed(1)},${y(tl.probabilities[i][line.c]).toFixed(1)}`);
    const el = svg("polyline", { points: points.join(" "), class: "prob-line", stroke: line.colour,
      "data-label": line.label }, root);
    svg("title", {}, el).textContent = line.label;
  }
  // the events: one lane per label, one bar per event
  laneLabels.forEach((label, lane) => {
    const top = lanesTop + lane * LANE;
    svg("rect", { x: 0, y: top, width: W, height: LANE - 4, class: "lane" }, root);
    for (const e of tl.events.filter((ev) => ev.label === label)) {
      const x0 = x(e.onset), width = Math.max(2, x(e.offset) - x0);
      const bar = svg("rect", { x: x0, y: top, width, height: LANE - 4, rx: 3, class: "event-bar",
        fill: colourOf.get(label) || OTHER_COLOUR, "data-label": label, "data-onset": e.onset,
        "data-offset": e.offset }, root);
      svg("title", {}, bar).textContent = `${label}: ${seconds(e.onset)} – ${seconds(e.offset)}, probability ${e.score.toFixed(2)}`;
      const text = `${label} ${e.score.toFixed(2)}`;
      const fits = width > 8.5 * text.length + 10;
      const after = x0 + width + 4 + 8.5 * text.length < W;
      const t = svg("text", { x: fits || after ? x0 + (fits ? 5 : width + 4) : x0 - 4,
        y: top + LANE / 2 + 1, class: `event-text ${fits ? "inside" : ""} ${fits || after ? "" : "end"}` }, root);
      t.textContent = text;
    }
  });
  if (!laneLabels.length) {
    const t = svg("text", { x: W / 2, y: lanesTop + LANE / 2, class: "tick middle" }, root);
    t.textContent = `no events (no label at or above ${threshold} for ${tl.settings.min_duration} s)`;
  }

  // legend (HTML) and the event list
  const legend = $("timeline-legend");
  for (const line of lines) {
    const item = document.createElement("li");
    item.dataset.label = line.label;
    const swatch = document.createElement("span"); swatch.className = "swatch"; swatch.style.background = line.colour;
    const name = document.createElement("span"); name.textContent = line.label;
    item.append(swatch, name);
    legend.appendChild(item);
  }
  if (tl.labels.length > lines.length) {
    const item = document.createElement("li");
    item.className = "muted";
    item.textContent = `+ ${tl.labels.length - lines.length} less likely labels not drawn`;
    legend.appendChild(item);
  }
  const body = $("timeline-events-body");
  for (const e of tl.events) {
    const row = document.createElement("tr");
    row.className = "event";
    row.dataset.label = e.label; row.dataset.onset = String(e.onset); row.dataset.offset = String(e.offset);
    const swatch = document.createElement("span"); swatch.className = "swatch";
    swatch.style.background = colourOf.get(e.label) || OTHER_COLOUR;
    const cells = [seconds(e.onset), seconds(e.offset), null, e.score.toFixed(2)].map((text) => {
      const td = document.createElement("td");
      if (text === null) { td.append(swatch, document.createTextNode(e.label)); } else { td.textContent = text; }
      return td;
    });
    row.append(...cells);
    body.appendChild(row);
  }
  $("timeline-events").hidden = !tl.events.length;

  const windows = `${tl.n_windows} windows of ${tl.window} s every ${tl.hop} s`;
  $("timeline-axis").textContent =
    `${tl.name}: ${tl.duration_seconds.toFixed(2)} s · ${windows}` +
    (tl.downsampled ? ` (drawn as averages of ${tl.group})` : "") +
    ` · lines: each label's probability per window · bars: events (probability ≥ ${threshold} ` +
    `for at least ${tl.settings.min_duration} s)`;
  $("timeline-note").textContent = tl.error
    ? `The file is damaged: ${tl.error}; the timeline shows the part before it.` : "";
  $("timeline-panel").hidden = false;
}

// --- model facts -----------------------------------------------------------------------------
fetch(API + "/model")
  .then((r) => r.json())
  .then((info) => {
    modelInfo = info;
    $("model-info").textContent =
      `Model: ${info.method} · audio ${info.audio_encoder} · labels ${info.label_encoder} · ` +
      `trained on ${info.training_classes.length} classes · up to ${info.limits.max_labels} labels, ` +
      `${info.limits.max_upload_mb} MB per request`;
  })
  .catch(() => { $("model-info").textContent = "model facts unavailable"; });
