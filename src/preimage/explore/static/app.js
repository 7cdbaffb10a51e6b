// preimage explore: the page. Plain JS, no build step, nothing from the internet.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { meta: null, uploads: [], inflight: false, dirty: false, polling: null, shownJobs: new Set() };

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

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
  if ($("binarize").checked) p.set("binarize", "1");
  if (+$("dropout").value) { p.set("dropout", $("dropout").value); p.set("seed", $("seed").value || "0"); }
  if (+$("least").value) p.set("least", $("least").value);
  const rep = currentRep();
  if (rep && rep.classes && $("topk-mode").value) { p.set("topk", $("topk").value); p.set("topk_mode", $("topk-mode").value); }
  if ($("mix").value) { p.set("mix", $("mix").value); p.set("t", $("t").value); }
  if ($("random").checked) { p.set("random", "1"); p.set("random_seed", $("random-seed").value || "0"); }
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
  const params = viewParams();
  const query = params.toString();
  try {
    const info = await api(`/api/render?${query}`);
    const img = $("recon-img");
    img.src = info.png;
    img.dataset.view = query;
    $("recon-dl").href = `/api/render.png?${query}&download=1`;
    $("recon-rep").textContent = info.rep;
    $("distance").textContent = info.distance === null ? "(random code: no input to compare)" : `distance ${info.distance.toFixed(3)}`;
    $("timing").textContent = `${info.ms.total.toFixed(1)} ms`;
    const rep = currentRep();
    $("classes").hidden = !(rep && rep.classes);
    classList($("classes-code"), info.classes);
    classList($("classes-input"), info.input_classes);
    clearError();
  } catch (err) {
    showError(err.message);
  } finally {
    state.inflight = false;
    if (state.dirty) { state.dirty = false; render(); }
  }
}

function showInputs() {
  const id = $("image").value;
  $("input-img").src = `/api/image.png?id=${encodeURIComponent(id)}`;
  $("input-dl").href = `/api/image.png?id=${encodeURIComponent(id)}&download=1`;
  const sel = $("image").selectedOptions[0];
  $("input-name").textContent = sel ? `(${sel.textContent})` : "";
  const mix = $("mix").value;
  $("mix-card").hidden = !mix;
  if (mix) {
    $("mix-img").src = `/api/image.png?id=${encodeURIComponent(mix)}`;
    $("mix-dl").href = `/api/image.png?id=${encodeURIComponent(mix)}&download=1`;
  }
  $("t-shown").textContent = $("t").value;
}

function onRepChange() {
  const rep = currentRep();
  $("topk-box").hidden = !(rep && rep.classes);
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
    clearError();
    pollJobs();
  } catch (err) {
    showError(err.message);
  }
}

function jobRow(job) {
  const row = document.createElement("div");
  row.className = `job ${job.status}`;
  const top = document.createElement("div");
  top.className = "top";
  const label = document.createElement("span");
  const where = job.status === "queued" ? ` · #${job.position + 1} in queue` : "";
  label.textContent = `${job.label} — ${job.status}${where}`;
  top.append(label);
  if (job.status === "queued" || job.status === "running") {
    const cancel = document.createElement("button");
    cancel.className = "ghost"; cancel.type = "button"; cancel.textContent = "cancel";
    cancel.onclick = () => api(`/api/jobs/${job.id}`, { method: "DELETE" }).then(pollJobs, (e) => showError(e.message));
    top.append(cancel);
  }
  row.append(top);
  if (job.status === "running" || job.status === "queued") {
    const bar = document.createElement("progress");
    bar.max = 1; bar.value = job.progress;
    bar.title = `${job.step} / ${job.steps} steps`;
    row.append(bar);
  }
  if (job.error) {
    const e = document.createElement("div");
    e.textContent = job.error;
    row.append(e);
  }
  return row;
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
  cap.textContent = `${job.kind}: ${job.label} (${job.seconds} s) `;
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
    const active = jobs.filter((j) => j.status === "queued" || j.status === "running" || j.status === "failed");
    $("queue").replaceChildren(...active.slice(-10).map(jobRow));
    for (const job of jobs) if (job.status === "done") addToGallery(job);
    if (jobs.some((j) => j.status === "queued" || j.status === "running")) state.polling = setTimeout(pollJobs, 400);
  } catch (err) {
    showError(err.message);
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
  for (const id of ["binarize", "random", "topk-mode"]) $(id).addEventListener("change", render);
  for (const id of ["seed", "random-seed"]) $(id).addEventListener("input", render);
  for (const id of ["dropout", "least", "topk", "t"]) bindSlider(id);
  $("reroll").addEventListener("click", () => { $("random-seed").value = +$("random-seed").value + 1; $("random").checked = true; render(); });
  $("upload").addEventListener("change", () => { if ($("upload").files.length) upload($("upload").files[0]); });
  $("tex-run").addEventListener("click", () => submitJob({
    kind: "texture", image: $("image").value, layer: $("tex-layer").value,
    channel: +$("tex-channel").value, steps: +$("tex-steps").value,
  }));
  $("opt-run").addEventListener("click", () => {
    const body = Object.fromEntries(viewParams());
    submitJob({ ...body, kind: "optimize", steps: +$("opt-steps").value });
  });
  showInputs();
  onRepChange();
  pollJobs();
}

init().catch((err) => showError(`The explorer could not start: ${err.message}`));
