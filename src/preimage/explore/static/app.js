// preimage explore: the page. Plain JS, no build step, nothing from the internet.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  meta: null, uploads: [], inflight: false, dirty: false, polling: null,
  shownJobs: new Set(), rows: new Map(), dismissed: new Set(), sampleSeed: 0,
};

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
// job errors stay beside the job buttons until dismissed: a render does not clear them
function showJobError(message) {
  $("job-error-text").textContent = message;
  $("job-error").hidden = false;
}

// an empty number box is an error the user can see, never a silent 0
function whole(id, what) {
  const raw = $(id).value.trim();
  if (raw === "") throw new Error(`${what} is empty: type a whole number (0 or more)`);
  return raw;
}

async function api(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text;
  return o;
}

function imageOptions(select, withNone) {
  const keep = select.value;
  select.replaceChildren();
  if (withNone) select.append(option("", "(none)"));
  const samples = document.createElement("optgroup");
  samples.label = "sample photos";
  for (const name of state.meta.samples) samples.append(option(`sample:${name}`, name));
  select.append(samples);
  if (state.uploads.length) {
    const ups = document.createElement("optgroup");
    ups.label = "uploads";
    for (const u of state.uploads) ups.append(option(u.id, u.name));
    select.append(ups);
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function currentRep() { return state.meta.reps.find((r) => r.key === $("rep").value); }

function viewParams() {
  const p = new URLSearchParams();
  p.set("image", $("image").value);
  p.set("rep", $("rep").value);
  if ($("variant").value) p.set("variant", $("variant").value);
  if ($("binarize").checked) p.set("binarize", "1");
  if (+$("dropout").value) { p.set("dropout", $("dropout").value); p.set("seed", whole("seed", "the dropout seed")); }
  if (+$("least").value) p.set("least", $("least").value);
  const rep = currentRep();
  if (rep && rep.classes && $("topk-mode").value) { p.set("topk", $("topk").value); p.set("topk_mode", $("topk-mode").value); }
  const random = $("random").checked;
  if ($("mix").value && !random) { p.set("mix", $("mix").value); p.set("t", $("t").value); }
  if (random) { p.set("random", "1"); p.set("random_seed", whole("random-seed", "the random-code seed")); }
  return p;
}

function classList(element, classes) {
  element.replaceChildren();
  for (const c of classes || []) {
    const li = document.createElement("li");
    li.textContent = `${c.name} (${(100 * c.p).toFixed(1)}%)`;
    element.append(li);
  }
}

// latest wins: one request in flight; moves during it are folded into one more request
async function render() {
  if (state.inflight) { state.dirty = true; return; }
  state.inflight = true;
  try {
    const query = viewParams().toString();
    const info = await api(`/api/render?${query}`);
    const img = $("recon-img");
    img.src = info.png;
    img.dataset.view = query;
    $("recon-dl").href = `/api/render.png?${query}&download=1`;
    $("recon-rep").textContent = info.variant ? `${info.rep} (${VARIANT_LABELS[info.variant] || info.variant})` : info.rep;
    $("distance").textContent = info.distance === null ? "(random code: no input to compare)" : `distance ${info.distance.toFixed(3)}`;
    $("timing").textContent = `${info.ms.total.toFixed(1)} ms`;
    const rep = currentRep();
    $("classes").hidden = !(rep && rep.classes);
    classList($("classes-code"), info.classes);
    classList($("classes-input"), info.input_classes);
    $("recon-card").classList.remove("stale");
    $("recon-stale").hidden = true;
    clearError();
  } catch (err) {
    // the image shown is the last view that rendered, not this one: say so on it
    $("recon-card").classList.add("stale");
    $("recon-stale").hidden = false;
    showError(err.message);
  } finally {
    state.inflight = false;
    if (state.dirty) { state.dirty = false; render(); }
  }
}

function showInputs() {
  const id = $("image").value;
  const size = (currentRep() || { size: 64 }).size;  // the side the representation sees
  const random = $("random").checked;
  $("input-card").hidden = random;  // a random code has no input photo
  $("input-img").src = `/api/image.png?id=${encodeURIComponent(id)}&size=${size}`;
  $("input-dl").href = `/api/image.png?id=${encodeURIComponent(id)}&size=${size}&download=1`;
  $("input-size").textContent = `${size} px`;
  const sel = $("image").selectedOptions[0];
  $("input-name").textContent = sel ? `(${sel.textContent})` : "";
  for (const el of [$("mix"), $("t")]) el.disabled = random;
  $("mix-note").hidden = !random;
  const mix = random ? "" : $("mix").value;
  $("mix-card").hidden = !mix;
  if (mix) {
    $("mix-img").src = `/api/image.png?id=${encodeURIComponent(mix)}&size=${size}`;
    $("mix-dl").href = `/api/image.png?id=${encodeURIComponent(mix)}&size=${size}&download=1`;
  }
  $("t-shown").textContent = $("t").value;
}

// what each zoo variant of a decoder is, as the menu says it
const VARIANT_LABELS = {
  linear: "linear baseline (ridge regression)",
  fast: "fast (smaller decoder)",
  sharp: "sharp (feature + adversarial loss)",
};

function variantOptions() {
  const rep = currentRep();
  const select = $("variant");
  const keep = select.value;
  select.replaceChildren(option("", "learned (pixel MSE)"));
  for (const v of (rep && rep.variants) || []) select.append(option(v, VARIANT_LABELS[v] || v));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
  select.disabled = select.options.length < 2;
}

function onRepChange() {
  const rep = currentRep();
  variantOptions();
  $("topk-box").hidden = !(rep && rep.classes);
  showInputs();
  render();
}

async function upload(file) {
  try {
    const info = await api("/api/upload", {
      method: "POST",
      body: file,
      headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream" },
    });
    state.uploads.push(info);
    imageOptions($("image"), false);
    imageOptions($("mix"), true);
    $("image").value = info.id;
    clearError();
    showInputs();
    render();
  } catch (err) {
    showError(`Upload refused: ${err.message}`);
  } finally {
    $("upload").value = "";
  }
}

async function submitJob(body) {
  try {
    await api("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    pollJobs();
  } catch (err) {
    showJobError(err.message);
  }
}

// one row per job, made once and updated in place: its buttons keep focus and clicks across polls
function jobRow(job) {
  let r = state.rows.get(job.id);
  if (!r) {
    const row = document.createElement("div");
    const top = document.createElement("div");
    top.className = "top";
    const label = document.createElement("span");
    const button = document.createElement("button");
    button.className = "ghost"; button.type = "button";
    const bar = document.createElement("progress");
    bar.max = 1;
    const error = document.createElement("div");
    top.append(label, button);
    row.append(top, bar, error);
    row.dataset.job = job.id;
    r = { row, label, button, bar, error };
    state.rows.set(job.id, r);
  }
  const live = job.status === "queued" || job.status === "running";
  r.row.className = `job ${job.status}`;
  const where = job.status === "queued" ? ` · #${job.position + 1} in queue` : "";
  r.label.textContent = `${job.label} — ${job.status}${where}`;
  r.button.textContent = live ? "cancel" : "dismiss";
  r.button.onclick = live
    ? () => api(`/api/jobs/${job.id}`, { method: "DELETE" }).then(pollJobs, (e) => showJobError(e.message))
    : () => { state.dismissed.add(job.id); pollJobs(); };
  r.bar.hidden = !live;
  r.bar.value = job.progress;
  r.bar.title = `${job.step} / ${job.steps} steps`;
  r.error.hidden = !job.error;
  r.error.textContent = job.error || "";
  return r.row;
}

function addToGallery(job) {
  if (state.shownJobs.has(job.id) || !job.url) return;
  state.shownJobs.add(job.id);
  $("gallery-empty").hidden = true;
  const fig = document.createElement("figure");
  fig.dataset.job = job.id;
  const img = document.createElement("img");
  img.src = job.url; img.alt = job.label;
  const cap = document.createElement("figcaption");
  cap.textContent = `${job.kind}: ${job.label}, ${job.steps} steps (${job.seconds} s) `;
  const dl = document.createElement("a");
  dl.href = `${job.url}?download=1`; dl.className = "dl"; dl.textContent = "download"; dl.download = "";
  cap.append(dl);
  fig.append(img, cap);
  $("gallery").prepend(fig);
}

async function pollJobs() {
  if (state.polling) { clearTimeout(state.polling); state.polling = null; }
  try {
    const { jobs } = await api("/api/jobs");
    const active = jobs.filter(
      (j) => j.status === "queued" || j.status === "running" || (j.status === "failed" && !state.dismissed.has(j.id)),
    ).slice(-10);
    const shown = new Set(active.map((j) => j.id));
    for (const [id, r] of state.rows) if (!shown.has(id)) { r.row.remove(); state.rows.delete(id); }
    for (const job of active) { const row = jobRow(job); if (!row.isConnected) $("queue").append(row); }
    for (const job of jobs) if (job.status === "done") addToGallery(job);
    if (jobs.some((j) => j.status === "queued" || j.status === "running")) state.polling = setTimeout(pollJobs, 400);
  } catch (err) {
    showJobError(err.message);
  }
}

function bindSlider(id) {
  const input = $(id);
  const out = document.querySelector(`output[for=${id}]`);
  input.addEventListener("input", () => { if (out) out.textContent = input.value; if (id === "t") showInputs(); render(); });
}

async function init() {
  state.meta = await api("/api/meta");
  imageOptions($("image"), false);
  imageOptions($("mix"), true);
  $("image").value = "sample:chelsea";
  const rep = $("rep");
  const groups = {};
  for (const r of state.meta.reps) {
    const group = r.rep.includes(":") ? `${r.rep.split(":")[0]} layers` : "shallow features";
    const name = r.size === 64 ? group : `${group}, ${r.size}-px photos`;
    if (!groups[name]) { groups[name] = document.createElement("optgroup"); groups[name].label = name; rep.append(groups[name]); }
    groups[name].append(option(r.key, r.key));
  }
  rep.value = state.meta.reps.some((r) => r.key === "alexnet64:conv3") ? "alexnet64:conv3" : state.meta.reps[0].key;
  $("topk").max = Math.min(20, state.meta.max_top_k);
  for (const l of state.meta.texture_layers) $("tex-layer").append(option(l.layer, l.layer));
  if (state.meta.texture_default) {
    // the server's default: Xia et al.'s relu2_1 on vgg19_64 where the zoo ships it
    $("tex-layer").value = state.meta.texture_default;
    const texMax = () => {
      const l = state.meta.texture_layers.find((x) => x.layer === $("tex-layer").value);
      $("tex-channel").max = l.channels - 1;
      $("tex-max").textContent = `of 0..${l.channels - 1}`;
    };
    texMax();
    $("tex-layer").addEventListener("change", texMax);
  } else {
    $("tex-run").disabled = true;  // no network with weights to take textures from
  }
  for (const id of ["tex-steps", "opt-steps"]) $(id).max = state.meta.max_steps;

  $("image").addEventListener("change", () => { showInputs(); render(); });
  $("mix").addEventListener("change", () => { showInputs(); render(); });
  rep.addEventListener("change", onRepChange);
  variantOptions();
  $("variant").addEventListener("change", render);
  for (const id of ["binarize", "topk-mode"]) $(id).addEventListener("change", render);
  $("random").addEventListener("change", () => { showInputs(); render(); });
  $("job-error-close").addEventListener("click", () => { $("job-error").hidden = true; });
  for (const id of ["seed", "random-seed"]) $(id).addEventListener("input", render);
  for (const id of ["dropout", "least", "topk", "t"]) bindSlider(id);
  $("reroll").addEventListener("click", () => {
    $("random-seed").value = +$("random-seed").value + 1; $("random").checked = true; showInputs(); render();
  });
  $("upload").addEventListener("change", () => { if ($("upload").files.length) upload($("upload").files[0]); });
  $("tex-run").addEventListener("click", () => submitJob({
    kind: "texture", image: $("image").value, layer: $("tex-layer").value,
    channel: +$("tex-channel").value, steps: +$("tex-steps").value,
  }));
  $("opt-run").addEventListener("click", () => {
    let body;
    try { body = Object.fromEntries(viewParams()); } catch (err) { showJobError(err.message); return; }
    submitJob({ ...body, kind: "optimize", steps: +$("opt-steps").value });
  });
  // each click draws another sample: a new seed, so that two clicks never repeat a pre-image
  $("sample-run").addEventListener("click", () => {
    let body;
    try { body = Object.fromEntries(viewParams()); } catch (err) { showJobError(err.message); return; }
    submitJob({ ...body, kind: "sample", steps: +$("sample-steps").value, sample_seed: state.sampleSeed++ });
  });
  showInputs();
  onRepChange();
  pollJobs();
}

init().catch((err) => showError(`The explorer could not start: ${err.message}`));
