// zsaudio web page: choose, drop or record a sound, type labels, show the server's ranking,
// the clip's log-mel spectrogram (computed by the server) and, where available, the timeline.
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
  const started = performance.now();
  try {
    const [result, spec] = await Promise.all([postForm("/classify", form), postForm("/spectrogram", specForm)]);
    showRanking(result.results[0]);
    drawSpectrogram(spec);
    showTimeline(spec);
    $("result-panel").hidden = false;
    setStatus(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  } catch (err) {
    setStatus("");
    showError(err.message);
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

function showTimeline(spec) {
  const long = spec.duration_seconds > LONG_SECONDS;
  $("timeline-panel").hidden = !long;
  if (long && !(modelInfo && modelInfo.timeline)) {
    $("timeline-note").textContent =
      "This server cannot yet show labels over time for long recordings; the ranking above is for the whole file.";
  }
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
