// CultoTranscript page: submit sermons, a live list fed by one SSE stream, a video view.
// No build step and no external assets; talks to its own origin only (see docs/integration.md
// for a page on another origin). Rendering lives in render.js.
"use strict";

const state = {
  videos: new Map(),   // id -> VideoDTO, kept current by the event stream
  lastEventId: 0,      // highest SSE id applied: duplicates are ignored, resumes start after it
  listLoaded: false,
  source: null,
  fetching: new Map(), // id -> "an event arrived meanwhile", for VideoDTOs being fetched
  spoken: new Map(),   // id -> last announced "status message", so screen readers hear changes only
};
const $ = (id) => document.getElementById(id);

// --- HTTP: JSON, XSRF token, errors as {status, code, message, details} ------------------------

let csrfToken = null;

async function csrf(renew) {
  if (!csrfToken || renew) {
    const reply = await fetch("/api/v2/csrf", { credentials: "same-origin" });
    csrfToken = (await reply.json()).csrf_token;
  }
  return csrfToken;
}

async function api(method, path, body, retried) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-XSRFToken"] = await csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let reply;
  try {
    reply = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    throw Object.assign(new Error("The server cannot be reached. Check your connection and try again."),
      { status: 0, code: "network" });
  }
  const data = reply.status === 204 ? null : await reply.json().catch(() => null);
  if (!reply.ok) {
    const err = (data && data.error) || { code: "http_" + reply.status, message: reply.statusText };
    if (err.code === "xsrf_failed" && !retried) {   // the cookie expired or was cleared
      await csrf(true);
      return api(method, path, body, true);
    }
    throw Object.assign(new Error(err.message), { status: reply.status, code: err.code, details: err.details });
  }
  return data;
}

// --- the live list ------------------------------------------------------------------------------

function sorted() {
  return [...state.videos.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
}

function renderList() {
  const list = $("videos");
  const videos = sorted();
  $("list-loading").hidden = state.listLoaded;
  $("list-empty").hidden = !state.listLoaded || videos.length > 0;
  $("list-count").textContent = videos.length ? videos.length + (videos.length === 1 ? " sermon" : " sermons") : "";
  const wanted = new Set(videos.map((v) => v.id));
  for (const li of [...list.children]) if (!wanted.has(li.dataset.id)) li.remove();
  let previous = null;
  for (const video of videos) {
    let li = list.querySelector(`li[data-id="${video.id}"]`);
    if (!li || li.dataset.rendered !== stamp(video)) {
      const fresh = Render.listItem(video, { onDelete: confirmDelete });
      fresh.dataset.rendered = stamp(video);
      if (li) keepFocus(li, fresh); else li = fresh;
      li = fresh;
    }
    const after = previous ? previous.nextSibling : list.firstChild;
    if (after !== li) list.insertBefore(li, after);
    previous = li;
  }
}

function stamp(video) {
  return [video.status, video.progress, video.status_message, video.title, !!video.summary,
    video.error && video.error.message].join("|");
}

// Replace `old` by `fresh`, keeping keyboard focus on the matching control.
function keepFocus(old, fresh) {
  const active = document.activeElement;
  const inside = active && old.contains(active);
  const role = inside ? (active.matches("a") ? "a" : "button") : null;
  old.replaceWith(fresh);
  if (role) fresh.querySelector(role).focus();
}

function upsert(video) {
  const known = state.videos.get(video.id);
  state.videos.set(video.id, known ? { ...known, ...video } : video);
  changed(video.id);
}

function changed(id) {
  renderList();
  if (currentId() === id) renderDetail();
  announce(state.videos.get(id));
}

function announce(video) {
  if (!video) return;
  const said = video.status + " " + (video.status === "FAILED" ? (video.error && video.error.message) || "" : video.status_message || "");
  if (state.spoken.get(video.id) === said) return;
  const first = !state.spoken.has(video.id);
  state.spoken.set(video.id, said);
  if (first && !state.listLoaded) return;
  let text = Render.title(video) + ": ";
  if (video.status === "PROCESSED") text += "analysis complete.";
  else if (video.status === "FAILED") text += "failed. " + ((video.error && video.error.message) || "");
  else text += (video.status_message || Render.STATUS_LABEL[video.status]) + " " + (video.progress || 0) + "%.";
  $("announcer").textContent = text;
}

async function loadList() {
  $("list-error").hidden = true;
  try {
    const page = await api("GET", "/api/v2/videos/?limit=200");
    // Events may have arrived while the page was loading: they are newer than this snapshot.
    for (const video of page.items) {
      const live = state.videos.get(video.id);
      state.videos.set(video.id, live ? { ...video, ...live, summary: live.summary || video.summary } : video);
      state.spoken.set(video.id, video.status + " " + (video.status_message || ""));
    }
    state.listLoaded = true;
    renderList();
    if (currentId()) renderDetail();
  } catch (err) {
    $("list-error-text").textContent = "Could not load the sermons: " + err.message;
    $("list-error").hidden = false;
    $("list-loading").hidden = true;
  }
}

async function fetchVideo(id) {
  if (state.fetching.has(id)) { state.fetching.set(id, true); return; }
  try {
    // Events that arrive during a fetch may be newer than its answer: fetch again until none did.
    let video;
    do {
      state.fetching.set(id, false);
      video = await api("GET", "/api/v2/videos/" + id);
    } while (state.fetching.get(id));
    upsert(video);
  } catch (err) {
    if (err.status === 404) { state.videos.delete(id); changed(id); }
  } finally {
    state.fetching.delete(id);
  }
}

// --- the event stream: one per tab, all videos -------------------------------------------------

function setConnection(kind, text) {
  const node = $("connection");
  node.className = "conn conn-" + kind;
  node.textContent = text;
}

function connect() {
  // The browser resends Last-Event-ID on its own reconnects; a stream we open again ourselves
  // (after the browser gave up) resumes with ?last_event_id=.
  const url = "/api/v2/events/stream" + (state.lastEventId ? "?last_event_id=" + state.lastEventId : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("open", () => {
    setConnection("live", "Live");
    if (!state.listLoaded) loadList();
  });
  source.addEventListener("error", (e) => {
    if (e.data) { onEvent(e); return; }   // an `error` event of a video, not of the connection
    if (source.readyState === EventSource.CLOSED) {
      setConnection("down", "Offline — retrying");
      setTimeout(() => { if (state.source === source) connect(); }, 3000);
    } else {
      setConnection("wait", "Reconnecting…");
    }
  });
  for (const type of ["video.status", "summary.ready", "video.deleted"]) {
    source.addEventListener(type, onEvent);
  }
}

function onEvent(e) {
  const id = Number(e.lastEventId);
  if (id) {
    if (id <= state.lastEventId) return;   // already applied
    state.lastEventId = id;
  }
  const ev = JSON.parse(e.data);
  if (state.fetching.has(ev.video_id)) state.fetching.set(ev.video_id, true);
  const known = state.videos.get(ev.video_id);
  if (ev.type === "video.deleted") {
    state.videos.delete(ev.video_id);
    changed(ev.video_id);
    return;
  }
  if (!known) {  // submitted elsewhere (another tab, the API): fetch its title and state
    if (state.listLoaded) fetchVideo(ev.video_id);
    return;
  }
  if (ev.type === "video.status") {
    upsert({
      id: ev.video_id, status: ev.status, progress: ev.progress, status_message: ev.message,
      error: ev.status === "FAILED" ? known.error || { code: "failed", message: ev.message } : null,
      summary: ev.status === "QUEUED" ? null : known.summary,
    });
  } else if (ev.type === "summary.ready") {
    upsert({ id: ev.video_id, summary: ev.summary });
  } else if (ev.type === "error") {
    if (!ev.retryable) upsert({ id: ev.video_id, error: { code: ev.code, message: ev.message } });
  }
}

// --- the video view -------------------------------------------------------------------------

function currentId() {
  const match = location.hash.match(/^#\/videos\/([0-9a-fA-F-]{36})$/);
  return match ? match[1].toLowerCase() : null;
}

function renderDetail() {
  const id = currentId();
  const box = $("detail");
  const video = id && state.videos.get(id);
  if (!video) {
    box.replaceChildren(Render.el("p", { class: "muted" }, state.listLoaded ? "Loading…" : "Connecting…"));
    return;
  }
  const active = document.activeElement;
  const hadFocus = active && box.contains(active) ? active.textContent : null;
  box.replaceChildren(...Render.detail(video, { onDelete: confirmDelete }));
  if (hadFocus) {
    const again = [...box.querySelectorAll("a,button")].find((n) => n.textContent === hadFocus);
    if (again) again.focus();
  }
}

function route() {
  const id = currentId();
  $("home-view").hidden = !!id;
  $("video-view").hidden = !id;
  if (id) {
    const video = state.videos.get(id);
    if (!video || (video.status === "PROCESSED" && !video.summary)) fetchVideo(id);
    renderDetail();
    const heading = document.getElementById("detail-title");
    if (heading) heading.focus();
    document.title = (video ? Render.title(video) + " — " : "") + "CultoTranscript";
  } else {
    document.title = "CultoTranscript";
  }
}

// --- delete, with confirmation ---------------------------------------------------------------

function confirmDelete(video) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = "“" + Render.title(video) + "” and its summary will be removed. " +
    "This cannot be undone.";
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", "/api/v2/videos/" + video.id);
      state.videos.delete(video.id);
      changed(video.id);
      $("announcer").textContent = "Deleted “" + Render.title(video) + "”.";
      if (currentId() === video.id) location.hash = "#/";
    } catch (err) {
      if (err.status === 404) { state.videos.delete(video.id); changed(video.id); return; }
      $("announcer").textContent = "Could not delete: " + err.message;
      alert("Could not delete “" + Render.title(video) + "”: " + err.message);
    }
  };
  dialog.showModal();
}

// --- the form -----------------------------------------------------------------------------------

const YT_ID = /^[A-Za-z0-9_-]{11}$/;
const FIELD_OF = {
  youtube_id: "video", url: "video", title: "title",
  transcript: "transcript", "transcript.content": "transcript", "transcript.format": "transcript",
};
const INPUT_OF = { video: "f-video", title: "f-title", transcript: "f-transcript" };

// A YouTube link or id -> {youtube_id?, url?}; null when it is neither.
function parseVideo(raw) {
  const text = raw.trim();
  if (!text) return {};
  if (YT_ID.test(text)) return { youtube_id: text };
  let url;
  try { url = new URL(/^[a-z]+:\/\//i.test(text) ? text : "https://" + text); } catch (_) { return null; }
  if (!url.hostname.includes(".")) return null;
  const host = url.hostname.replace(/^(www|m|music)\./, "");
  let id = null;
  if (host === "youtu.be") id = url.pathname.slice(1).split("/")[0];
  else if (host === "youtube.com") {
    id = url.searchParams.get("v") || (url.pathname.match(/^\/(?:shorts|live|embed)\/([^/]+)/) || [])[1];
  }
  return id && YT_ID.test(id) ? { youtube_id: id, url: url.href } : { url: url.href };
}

function detectFormat(content) {
  if (/^\uFEFF?WEBVTT/.test(content)) return "vtt";
  if (/^\uFEFF?\s*\d+\s*\r?\n\d{1,2}:\d{2}:\d{2}[,.]\d{3}\s*-->/.test(content)) return "srt";
  return "txt";
}

function plain(field, message) {
  // Validation messages name the field already; show the words, not the schema.
  const text = message.replace(/^(invalid body: )?[\w.]+: /, "");
  if (field === "video" && /pattern|string_pattern|should match/i.test(text)) {
    return "That is not a YouTube video id: it has 11 letters, digits, - or _ (e.g. dQw4w9WgXcQ).";
  }
  if (field === "video" && /URL/i.test(text) && !/only videos/.test(text)) {
    return "Enter a full link, like https://www.youtube.com/watch?v=dQw4w9WgXcQ.";
  }
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function showErrors(errors, formMessage) {
  let first = null;
  for (const name of Object.keys(INPUT_OF)) {
    const input = $(INPUT_OF[name]);
    const box = $(INPUT_OF[name] + "-error");
    const message = errors[name];
    input.setAttribute("aria-invalid", message ? "true" : "false");
    box.hidden = !message;
    box.textContent = message || "";
    if (message && !first) first = input;
  }
  const formError = $("form-error");
  formError.hidden = !formMessage;
  formError.replaceChildren(...(formMessage ? [].concat(formMessage) : []));
  if (first) first.focus();
  else if (formMessage) formError.focus();
}

function updateTitleNeed() {
  const needed = !$("f-video").value.trim() && !!$("f-transcript").value.trim();
  $("title-need").textContent = needed ? "required" : "optional";
  $("title-need").className = needed ? "req" : "opt";
  $("f-title").required = needed;
}

async function submit(event) {
  event.preventDefault();
  const errors = {};
  const video = parseVideo($("f-video").value);
  const title = $("f-title").value.trim();
  const content = $("f-transcript").value;
  if (video === null) errors.video = "Enter a YouTube link (https://www.youtube.com/watch?v=…) or an 11-character video id.";
  const hasVideo = video && (video.youtube_id || video.url);
  if (!hasVideo && !content.trim() && !errors.video) {
    errors.transcript = "Paste or upload a transcript, or give a YouTube link above.";
  }
  if (!hasVideo && content.trim() && !title) errors.title = "Give the sermon a title: a pasted transcript has no other name.";
  if (Object.keys(errors).length) { showErrors(errors); return; }
  showErrors({});
  const body = { ...video };
  if (title) body.title = title;
  if (content.trim()) {
    const chosen = $("f-format").value;
    body.transcript = { format: chosen === "auto" ? detectFormat(content) : chosen, content };
  }
  if ($("f-reprocess").checked) body.reprocess = true;
  const button = $("submit-button");
  const out = $("submit-result");
  button.disabled = true;
  out.className = "submit-result";
  out.textContent = "Sending…";
  try {
    const created = await api("POST", "/api/v2/videos/", body);
    upsert(created);
    $("submit-form").reset();
    $("f-file-name").textContent = "";
    updateTitleNeed();
    out.className = "submit-result ok";
    out.textContent = "Queued “" + Render.title(created) + "”.";
    location.hash = "#/videos/" + created.id;
  } catch (err) {
    out.textContent = "";
    const fieldErrors = {};
    const rest = [];
    for (const item of (err.details && err.details.errors) || []) {
      const field = FIELD_OF[item.field];
      if (field && !fieldErrors[field]) fieldErrors[field] = plain(field, item.message);
      else if (!field) rest.push(plain("", item.message));
    }
    let formMessage = null;
    if (err.status === 409 && err.details && err.details.existing_id) {
      formMessage = [Render.el("span", {}, "This video was submitted before. "),
        Render.el("a", { href: "#/videos/" + err.details.existing_id }, "Open it"),
        Render.el("span", {}, ", or tick “Process again” to analyse it once more.")];
    } else if (!Object.keys(fieldErrors).length) {
      formMessage = rest[0] || (err.status === 413 ? "The transcript is too large." : err.message);
    }
    showErrors(fieldErrors, formMessage);
  } finally {
    button.disabled = false;
  }
}

async function loadFile(e) {
  const file = e.target.files[0];
  if (!file) return;
  const text = await file.text();
  $("f-transcript").value = text;
  const ext = file.name.split(".").pop().toLowerCase();
  $("f-format").value = ["txt", "vtt", "srt"].includes(ext) ? ext : "auto";
  $("f-file-name").textContent = "· " + file.name;
  if (!$("f-title").value.trim()) $("f-title").value = file.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ");
  updateTitleNeed();
}

document.addEventListener("DOMContentLoaded", () => {
  $("submit-form").addEventListener("submit", submit);
  $("f-file").addEventListener("change", loadFile);
  $("f-video").addEventListener("input", updateTitleNeed);
  $("f-transcript").addEventListener("input", updateTitleNeed);
  $("list-retry").addEventListener("click", loadList);
  $("form-error").tabIndex = -1;
  window.addEventListener("hashchange", route);
  route();
  renderList();
  connect();
});
