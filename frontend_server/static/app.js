// CultoTranscript page: submit a video, list videos, watch one live over SSE.
// No build step and no external assets; talks to the same origin only.
"use strict";

let csrfToken = null;
let source = null;

async function csrf() {
  if (!csrfToken) {
    const reply = await fetch("/api/v2/csrf", { credentials: "same-origin" });
    csrfToken = (await reply.json()).csrf_token;
  }
  return csrfToken;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-XSRFToken"] = await csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = reply.status === 204 ? null : await reply.json().catch(() => null);
  if (!reply.ok) {
    const err = (data && data.error) || { code: "http_" + reply.status, message: reply.statusText };
    throw Object.assign(new Error(err.message), { code: err.code, details: err.details });
  }
  return data;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const out = document.getElementById("submit-result");
  const f = new FormData(form);
  const body = {};
  for (const name of ["youtube_id", "url", "title"]) {
    const v = String(f.get(name) || "").trim();
    if (v) body[name] = v;
  }
  const content = String(f.get("transcript") || "");
  if (content.trim()) body.transcript = { format: f.get("transcript_format"), content };
  if (f.get("reprocess")) body.reprocess = true;
  out.className = "";
  out.textContent = "Submitting…";
  try {
    const video = await api("POST", "/api/v2/videos/", body);
    out.className = "ok";
    out.textContent = "Queued " + video.id;
    await refresh();
    watch(video);
  } catch (err) {
    out.className = "error";
    const existing = err.details && err.details.existing_id;
    out.textContent = err.message + (existing ? " (existing video " + existing + ")" : "");
    if (existing) watch({ id: existing, title: existing });
  }
}

async function refresh() {
  const tbody = document.querySelector("#videos tbody");
  try {
    const page = await api("GET", "/api/v2/videos/?limit=50");
    tbody.replaceChildren(...page.items.map(row));
  } catch (err) {
    tbody.replaceChildren(el("tr", "")); tbody.firstChild.append(el("td", err.message, "error"));
  }
}

function row(video) {
  const tr = el("tr");
  tr.append(el("td", video.title || video.youtube_id || video.url || video.id));
  tr.append(el("td", video.status, "status-" + video.status));
  tr.append(el("td", video.progress + "%"));
  tr.append(el("td", new Date(video.created_at).toLocaleString()));
  const actions = el("td");
  const watchBtn = el("button", "Watch");
  watchBtn.type = "button";
  watchBtn.onclick = () => watch(video);
  const delBtn = el("button", "Delete");
  delBtn.type = "button";
  delBtn.onclick = async () => {
    try { await api("DELETE", "/api/v2/videos/" + video.id); } catch (err) { alert(err.message); }
    refresh();
  };
  actions.append(watchBtn, " ", delBtn);
  tr.append(actions);
  return tr;
}

function watch(video) {
  if (source) source.close();
  const section = document.getElementById("watch");
  section.hidden = false;
  document.getElementById("watch-title").textContent = video.title || video.id;
  document.getElementById("watch-summary").replaceChildren();
  const log = document.getElementById("watch-log");
  log.replaceChildren();
  const bar = document.getElementById("watch-progress");
  const status = document.getElementById("watch-status");
  bar.value = video.progress || 0;
  status.textContent = video.status || "";
  // The browser resumes with Last-Event-ID by itself after a dropped connection.
  source = new EventSource("/api/v2/events/stream?video_id=" + encodeURIComponent(video.id));
  const note = (type, text) => {
    log.append(el("li", new Date().toLocaleTimeString() + " " + type + " " + text));
    log.scrollTop = log.scrollHeight;
  };
  source.addEventListener("video.status", (e) => {
    const ev = JSON.parse(e.data);
    bar.value = ev.progress;
    status.textContent = ev.status + " " + (ev.message || "");
    note("status", ev.status + " " + ev.progress + "% " + (ev.message || ""));
    if (ev.status === "PROCESSED" || ev.status === "FAILED") refresh();
  });
  source.addEventListener("summary.ready", (e) => {
    const ev = JSON.parse(e.data);
    note("summary", "ready");
    showSummary(ev.summary);
  });
  source.addEventListener("error", (e) => {
    if (!e.data) return; // connection trouble: EventSource reconnects on its own
    const ev = JSON.parse(e.data);
    note("error", ev.code + ": " + ev.message);
  });
  source.addEventListener("video.deleted", () => { note("deleted", ""); source.close(); });
}

function showSummary(summary) {
  const box = document.getElementById("watch-summary");
  box.replaceChildren(el("h3", "Summary"));
  const list = (title, items) => {
    if (!items || !items.length) return;
    box.append(el("h4", title));
    const ul = el("ul");
    for (const item of items) ul.append(el("li", item));
    box.append(ul);
  };
  if (summary.speaker) box.append(el("p", "Speaker: " + summary.speaker));
  box.append(el("p", "Words: " + summary.word_count));
  // Shapes follow schemas/generated/dtos.ts (SummaryDTO).
  list("Themes", summary.themes || []);
  list("Passages", (summary.passages || []).map(
    (p) => p.reference + (p.mentions > 1 ? " (×" + p.mentions + ")" : "")));
  list("Key points", summary.key_points || []);
  list("Citations", (summary.citations || []).map((c) => c.author + ": “" + c.text + "”"));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("submit-form").addEventListener("submit", submit);
  document.getElementById("refresh").addEventListener("click", refresh);
  document.querySelector("input[name=transcript_file]").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const form = document.getElementById("submit-form");
    form.transcript.value = await file.text();
    const ext = file.name.split(".").pop().toLowerCase();
    if (["txt", "vtt", "srt"].includes(ext)) form.transcript_format.value = ext;
  });
  refresh();
});
