// CultoTranscript page: sign in, submit sermons, a live list fed by one SSE stream, a video view.
// No build step and no external assets; talks to its own origin only (see docs/integration.md
// for a page on another origin). Rendering lives in render.js.
//
// Who is signed in decides what the page offers: GET /api/v2/auth/me (401 = anonymous) gives the
// user and a role per channel; the submit form appears only for an admin or an editor/owner of
// some channel, Delete only on videos of such channels. Signing in or out changes what the
// server lets this browser read, so the page then renews the XSRF token (it is bound to the
// session), reloads the list and opens a new event stream.
"use strict";

const state = {
  videos: new Map(),   // id -> VideoDTO, kept current by the event stream
  lastEventId: 0,      // highest SSE id applied: duplicates are ignored, resumes start after it
  listLoaded: false,
  source: null,
  opened: false,       // the current stream has been open once (a later open is a reconnect)
  fetching: new Map(), // id -> "an event arrived meanwhile", for VideoDTOs being fetched
  missing: new Set(),  // ids answered 404: deleted, or not readable by this user
  spoken: new Map(),   // id -> last announced "status message", so screen readers hear changes only
  epoch: 0,            // bumped when the user changes: answers to older requests are dropped
  me: undefined,       // undefined: not known yet; null: anonymous; else GET /api/v2/auth/me
  meStale: false,      // the last GET /api/v2/auth/me failed (not a 401): ask again when live
  submitChannels: [],  // channels the user may submit to: [{id, name, visibility}]
  channel: channelFromPath(), // the channel view (/c/<id>): only its sermons; null: home
  channels: null,      // id -> ChannelDTO of every channel this browser may read; null: not known
};
const WRITE_ROLES = new Set(["editor", "owner"]);

// `/c/<channel id>` is a church's own page: its sermons, live (ids as the API validates them).
function channelFromPath() {
  const match = location.pathname.match(/^\/c\/([A-Za-z0-9_-]{1,64})\/?$/);
  return match ? match[1] : null;
}
const DEFAULT_CHANNEL = "default";
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
    throw Object.assign(new Error(err.message), {
      status: reply.status, code: err.code, details: err.details,
      retryAfter: Number(reply.headers.get("Retry-After")) || null,
    });
  }
  return data;
}

// --- who is signed in -------------------------------------------------------------------------

function channelOf(video) {
  return video.channel_id || DEFAULT_CHANNEL;   // videos stored before channels: the default one
}

function mayDelete(video) {
  const me = state.me;
  if (!me) return false;
  if (me.user.admin) return true;
  return me.channels.some((c) => c.id === channelOf(video) && WRITE_ROLES.has(c.role));
}

// Ask the server who this browser is; returns true when the user changed.
async function loadMe() {
  const before = state.me ? state.me.user.id : state.me;
  let me = null;
  try {
    me = await api("GET", "/api/v2/auth/me");
  } catch (err) {
    if (err.status !== 401) {   // not "anonymous": the server could not say; ask again later
      state.meStale = true;
      if (state.me === undefined) { state.me = null; renderAuth(); }
      return false;
    }
  }
  state.meStale = false;
  await loadChannels();
  let channels = [];
  if (me) {
    // An admin may submit to every channel (an admin reads them all).
    channels = me.user.admin ? [...(state.channels ? state.channels.values() : [])]
      : me.channels.filter((c) => WRITE_ROLES.has(c.role));
  }
  state.me = me;
  state.submitChannels = channels;
  renderAuth();
  return (me ? me.user.id : null) !== before;
}

// What a sermon shows of its channel: {name, visibility} (visibility unknown: no badge).
function channelLabel(video) {
  const id = channelOf(video);
  const known = state.channels && state.channels.get(id);
  return known ? { name: known.name, visibility: known.visibility } : { name: id, visibility: null };
}

function renderAuth() {
  const me = state.me;
  const known = me !== undefined;
  const canSubmit = !!me && state.submitChannels.length > 0;
  $("auth-loading").hidden = known;
  $("account").hidden = !known;
  $("account-signed-in").hidden = !me;
  $("signin-jump").hidden = !known || !!me;
  $("signin-card").hidden = !known || !!me;
  $("readonly-card").hidden = !me || canSubmit;
  $("submit-card").hidden = !canSubmit;
  $("account-email").textContent = me ? me.user.email : "";
  $("account-email").title = me ? me.user.email : "";
  $("account-admin").hidden = !(me && me.user.admin);

  const select = $("f-channel");
  const previous = select.value;
  select.replaceChildren(...state.submitChannels.map((c) =>
    Render.el("option", { value: c.id }, c.name + (c.visibility === "public" ? " (public)" : ""))));
  const ids = state.submitChannels.map((c) => c.id);
  const preferred = state.channel && ids.includes(state.channel) ? state.channel : DEFAULT_CHANNEL;
  select.value = ids.includes(previous) ? previous : ids.includes(preferred) ? preferred : ids[0] || "";

  $("list-empty-title").textContent = state.channel ? "No sermons in this channel yet."
    : me ? "No sermons yet." : "No public sermons yet.";
  $("list-empty-hint").textContent = canSubmit
    ? "Paste a transcript or a YouTube link in the form to analyse your first sermon. It will appear here and update live."
    : me ? "Sermons of your channels appear here and update live."
      : "Sign in to submit sermons. Public sermons appear here and update live.";
  renderList();
  renderChannels();
  if (currentId()) renderDetail();
  Manage.renderAuth();
}

// --- channels: the home page's picker, the channel view's header, every sermon's badge --------

async function loadChannels() {
  const epoch = state.epoch;
  try {
    const channels = await api("GET", "/api/v2/channels");
    if (epoch !== state.epoch) return;
    state.channels = new Map(channels.map((c) => [c.id, c]));
  } catch (_) {
    // Unknown: keep showing what we had (names and badges are a nicety, the list still works).
  }
  renderChannels();
}

function viewedChannel() {
  return state.channel && state.channels ? state.channels.get(state.channel) || null : null;
}

function renderChannels() {
  const inChannel = !!state.channel;
  $("channel-card").hidden = !inChannel;
  $("churches-card").hidden = inChannel || state.channels === null;
  if (!inChannel) {
    // Public channels first (anyone may follow them), then the user's private ones.
    const channels = [...(state.channels ? state.channels.values() : [])].sort((a, b) =>
      (a.visibility === b.visibility ? 0 : a.visibility === "public" ? -1 : 1) || a.name.localeCompare(b.name));
    $("churches").replaceChildren(...channels.map((c) => Render.el("li", {},
      Render.el("a", { href: "/c/" + encodeURIComponent(c.id) }, c.name),
      c.visibility === "public" ? null : Render.el("span", { class: "muted small" }, " · members only"))));
    $("churches-empty").hidden = channels.length > 0;
    return;
  }
  const channel = viewedChannel();
  const gone = state.channels !== null && !channel;
  $("list-card").hidden = gone;
  $("channel-about").hidden = gone;
  if (gone) {
    // Its stream is refused (as an unknown channel's): stop asking until the user changes.
    if (state.source) { state.source.close(); state.source = null; }
    setConnection("down", "Not available");
    $("channel-heading").textContent = "Channel not found";
    $("channel-kind").textContent = state.me
      ? "It does not exist, or it is private and you are not one of its members."
      : "It does not exist, or it is private: sign in to see the sermons of your channels.";
    document.title = "Channel not found — CultoTranscript";
    return;
  }
  $("channel-heading").textContent = channel ? channel.name : "Loading…";
  $("channel-kind").textContent = !channel ? ""
    : channel.visibility === "public" ? "Public channel: anyone may follow it."
      : "Private channel: only its members see these sermons.";
  if (channel && !currentId()) document.title = channel.name + " — CultoTranscript";
}

// The user changed (signed in or out): the old XSRF token is void, the list and the stream
// show what the previous user could read. Start both again.
function restartLive() {
  state.epoch += 1;
  if (state.source) state.source.close();
  state.source = null;
  state.videos.clear();
  state.fetching.clear();
  state.missing.clear();
  state.spoken.clear();
  state.lastEventId = 0;
  state.listLoaded = false;
  setConnection("wait", "Connecting…");
  renderList();
  if (currentId()) renderDetail();
  state.channels = null;   // what this user may read changed: the picker, the channel view
  loadChannels();
  connect();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function signIn(body) {
  await api("POST", "/api/v2/auth/login", body);
  csrfToken = null;                 // bound to the anonymous browser: fetch the session's own
  // The edge learns of a new session from its store a moment after the 204: ask until it
  // knows it, so that the list and the stream below are the user's, not an anonymous one's.
  for (let tries = 0; !(await loadMe(), state.me) && tries < 50; tries += 1) await sleep(100);
  if (!state.me) {
    throw Object.assign(new Error("the server accepted the sign-in but has not confirmed it yet. " +
      "Reload the page in a moment."), { status: -1 });
  }
  restartLive();
  if (location.pathname === "/login") history.replaceState(null, "", "/" + location.hash);
  $("announcer").textContent = state.me ? "Signed in as " + state.me.user.email + "." : "";
}

function loginMessage(err, once) {
  if (err.status === 429) {
    return "Too many sign-in attempts. Wait " + (err.retryAfter ? err.retryAfter + " seconds" : "a minute") +
      " and try again.";
  }
  if (once && (err.status === 401 || err.status === 400 || err.status === 422)) {
    return "This sign-in link has expired or was already used. Sign in with your email and password, " +
      "or ask for a new link.";
  }
  if (err.status === 401) return "The email or the password is not right. Check both and try again.";
  if (err.status === 400 || err.status === 422) return "Enter a valid email address and your password.";
  if (err.status === 0) return err.message;
  return "Signing in did not work: " + err.message;
}

function showSignInErrors(errors, formMessage) {
  let first = null;
  for (const name of ["email", "password"]) {
    const input = $("f-" + name);
    const box = $("f-" + name + "-error");
    input.setAttribute("aria-invalid", errors[name] ? "true" : "false");
    box.hidden = !errors[name];
    box.textContent = errors[name] || "";
    if (errors[name] && !first) first = input;
  }
  const alertBox = $("signin-error");
  alertBox.hidden = !formMessage;
  alertBox.textContent = formMessage || "";
  if (first) first.focus();
  else if (formMessage && !$("signin-card").hidden) alertBox.focus();
}

function focusHome() {
  const heading = ["submit-heading", "readonly-heading", "signin-heading"].map($).find((h) => !h.closest("[hidden]"));
  if (heading && !currentId()) heading.focus();
}

async function submitSignIn(event) {
  event.preventDefault();
  const email = $("f-email").value.trim();
  const password = $("f-password").value;
  const errors = {};
  if (!email) errors.email = "Enter your email address.";
  else if (!/^[^@\s]+@[^@\s]+$/.test(email)) errors.email = "Enter your email address, like name@example.org.";
  if (!password) errors.password = "Enter your password.";
  if (Object.keys(errors).length) { showSignInErrors(errors); return; }
  showSignInErrors({});
  const button = $("signin-button");
  const out = $("signin-result");
  button.disabled = true;
  out.textContent = "Signing in…";
  try {
    await signIn({ email, password });
    $("signin-form").reset();
    out.textContent = "";
    focusHome();
  } catch (err) {
    out.textContent = "";
    $("f-password").value = "";
    showSignInErrors({}, loginMessage(err, false));
  } finally {
    button.disabled = false;
  }
}

// A one-time link (`/login#once=SECRET`, printed by `culto up`): take the secret out of the
// address bar and history at once, then trade it for a session.
function takeOnceSecret() {
  const match = location.hash.match(/^#once=(.*)$/);
  if (!match) return null;
  history.replaceState(null, "", location.pathname === "/login" ? "/" : location.pathname + location.search);
  try { return decodeURIComponent(match[1]); } catch (_) { return match[1]; }
}

async function signInOnce(secret) {
  try {
    await signIn({ once: secret });
    focusHome();
  } catch (err) {
    await loadMe();
    restartLive();
    if (!state.me) showSignInErrors({}, loginMessage(err, true));
  }
}

async function signOut() {
  const button = $("signout-button");
  button.disabled = true;
  try {
    await api("POST", "/api/v2/auth/logout");
  } catch (err) {
    if (err.status !== 401) {       // 401: the session had already ended, which is the goal
      $("announcer").textContent = "Could not sign out: " + err.message;
      alert("Could not sign out: " + err.message);
      return;
    }
  } finally {
    button.disabled = false;
  }
  csrfToken = null;                 // it was bound to the session that just ended
  state.me = null;
  state.submitChannels = [];
  renderAuth();
  restartLive();
  $("announcer").textContent = "Signed out.";
  goHome();
  $("signin-heading").focus();
}

// Show the home view now (hashchange comes later), so that its fields can take focus.
function goHome() {
  if (!currentId() && !Manage.viewOf(location.hash)) return;
  location.hash = "#/";
  route();
}

function jumpToSignIn() {
  goHome();
  $("f-email").focus();
}

// The session ended under our feet (expired, revoked, signed out in another tab).
async function sessionEnded(message) {
  await loadMe();
  restartLive();
  if (!state.me) showSignInErrors({}, message);
}

// --- the live list ------------------------------------------------------------------------------

// Newest first; in the channel view only that channel's (a video opened from elsewhere, or one
// just moved away, stays out of its list).
function sorted() {
  return [...state.videos.values()]
    .filter((v) => !state.channel || channelOf(v) === state.channel)
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
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
      const fresh = Render.listItem(video, {
        onDelete: mayDelete(video) ? confirmDelete : null, channel: channelLabel(video),
      });
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
  const channel = channelLabel(video);
  return [video.status, video.progress, video.status_message, video.title, !!video.summary,
    video.error && video.error.message, mayDelete(video), channel.name, channel.visibility].join("|");
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
  else if (video.status === "FAILED") text += "failed. " + Render.sentence((video.error && video.error.message) || "");
  else text += (video.status_message || Render.STATUS_LABEL[video.status]) + " " + (video.progress || 0) + "%.";
  $("announcer").textContent = text;
}

async function loadList() {
  $("list-error").hidden = true;
  const epoch = state.epoch;
  try {
    const only = state.channel ? "&channel_id=" + encodeURIComponent(state.channel) : "";
    const page = await api("GET", "/api/v2/videos/?limit=200" + only);
    if (epoch !== state.epoch) return;   // signed in or out meanwhile: a newer load follows
    // Events may have arrived while the page was loading: they are newer than this snapshot.
    for (const video of page.items) {
      const live = state.videos.get(video.id);
      state.videos.set(video.id, live ? { ...video, ...live, summary: live.summary || video.summary } : video);
      state.spoken.set(video.id, video.status + " " + (video.status_message || ""));
    }
    state.listLoaded = true;
    renderList();
    const id = currentId();
    if (id && !state.videos.has(id)) fetchVideo(id);
    if (id) renderDetail();
  } catch (err) {
    if (epoch !== state.epoch) return;
    if (state.channel && (err.status === 404 || err.status === 401)) { loadChannels(); return; }
    $("list-error-text").textContent = "Could not load the sermons: " + err.message;
    $("list-error").hidden = false;
    $("list-loading").hidden = true;
  }
}

async function fetchVideo(id) {
  if (state.fetching.has(id)) { state.fetching.set(id, true); return; }
  const epoch = state.epoch;
  try {
    // Events that arrive during a fetch may be newer than its answer: fetch again until none did.
    let video;
    do {
      state.fetching.set(id, false);
      video = await api("GET", "/api/v2/videos/" + id);
    } while (state.fetching.get(id) && epoch === state.epoch);
    if (epoch !== state.epoch) return;
    state.missing.delete(id);
    upsert(video);
  } catch (err) {
    if (epoch !== state.epoch) return;
    // 404: gone, or in a channel this user may not read; 401: not public, and nobody is
    // signed in (or the session ended: then say so).
    if (err.status === 404 || err.status === 401) { state.videos.delete(id); state.missing.add(id); changed(id); }
    if (err.status === 401 && state.me) sessionEnded("Your session has ended. Sign in again.");
  } finally {
    if (epoch === state.epoch) state.fetching.delete(id);
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
  // The stream carries only the videos this user may read (the session cookie goes with it).
  // The channel view follows its channel: every sermon of it, new ones included (one line:
  // docs/integration.md "Follow a church").
  const query = new URLSearchParams();
  if (state.channel) query.set("channel_id", state.channel);
  if (state.lastEventId) query.set("last_event_id", state.lastEventId);
  const url = "/api/v2/events/stream" + (query.toString() ? "?" + query : "");
  const source = new EventSource(url, { withCredentials: true });
  state.source = source;
  state.opened = false;
  source.addEventListener("open", async () => {
    setConnection("live", "Live");
    const reconnect = state.opened;
    state.opened = true;
    if (!state.listLoaded) loadList();
    // After a drop the session may have ended meanwhile (expired, signed out elsewhere).
    const check = (reconnect && state.me) || state.meStale;
    if (check && await loadMe() && state.source === source) restartLive();
  });
  source.addEventListener("error", (e) => {
    if (e.data) { onEvent(e); return; }   // an `error` event of a video, not of the connection
    if (source.readyState === EventSource.CLOSED) {
      setConnection("down", "Offline — retrying");
      setTimeout(async () => {
        if (state.source !== source) return;
        // A channel that is (or became) unreadable is refused: renderChannels says so and
        // stops; otherwise open the stream again.
        if (state.channel) await loadChannels();
        if (state.source === source) connect();
      }, 3000);
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
    state.missing.add(ev.video_id);
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
    if (state.missing.has(id)) {
      box.replaceChildren(Render.el("h1", { id: "detail-title", tabindex: "-1" }, "Sermon not found"),
        Render.el("p", { class: "muted" }, state.me
          ? "It was deleted, or it belongs to a channel you are not a member of."
          : "It was deleted, or it is not public: sign in to see the sermons of your channels."));
      return;
    }
    box.replaceChildren(Render.el("p", { class: "muted" }, state.listLoaded ? "Loading…" : "Connecting…"));
    return;
  }
  const active = document.activeElement;
  const hadFocus = active && box.contains(active) ? active.textContent : null;
  box.replaceChildren(...Render.detail(video, {
    onDelete: mayDelete(video) ? confirmDelete : null, channel: channelLabel(video),
  }));
  if (hadFocus) {
    const again = [...box.querySelectorAll("a,button")].find((n) => n.textContent === hadFocus);
    if (again) again.focus();
  }
}

function route() {
  const view = Manage.viewOf(location.hash);   // a management view (channels, tokens...)?
  const id = currentId();
  $("home-view").hidden = !!id || !!view;
  $("video-view").hidden = !id;
  Manage.show(view);
  if (view) return;
  if (id) {
    const video = state.videos.get(id);
    if (!video || (video.status === "PROCESSED" && !video.summary)) fetchVideo(id);
    renderDetail();
    const heading = document.getElementById("detail-title");
    if (heading) heading.focus();
    document.title = (video ? Render.title(video) + " — " : "") + "CultoTranscript";
  } else {
    document.title = "CultoTranscript";
    if (state.channel) renderChannels();   // the channel's name, once known
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
      let message = err.message;
      if (err.status === 401) {
        message = "you are no longer signed in. Sign in again, then delete it.";
        sessionEnded("Your session has ended. Sign in again to delete sermons.");
      } else if (err.status === 403) {
        message = "you may not delete the sermons of this channel.";
        loadMe();
      }
      $("announcer").textContent = "Could not delete: " + message;
      alert("Could not delete “" + Render.title(video) + "”: " + message);
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

// The title is required exactly when no video link is given (a transcript alone has no name).
function updateTitleNeed() {
  const video = !!$("f-video").value.trim();
  const needed = !video && !!$("f-transcript").value.trim();
  $("title-need").textContent = needed ? "required" : video ? "optional" : "required without a video link";
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
  if (!hasVideo && content.trim() && !title) errors.title = "Give the sermon a title: a transcript without a video link has no other name.";
  if (Object.keys(errors).length) { showErrors(errors); return; }
  showErrors({});
  const body = { ...video };
  if (title) body.title = title;
  if (content.trim()) {
    const chosen = $("f-format").value;
    body.transcript = { format: chosen === "auto" ? detectFormat(content) : chosen, content };
  }
  if ($("f-reprocess").checked) body.reprocess = true;
  if ($("f-channel").value) body.channel_id = $("f-channel").value;
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
    if (err.status === 401) {
      showErrors({});
      sessionEnded("Your session has ended. Sign in again to submit the sermon.");
      return;
    }
    if (err.status === 403) {
      formMessage = "You may not submit sermons to this channel. Choose another channel, or ask its owner " +
        "to make you an editor.";
      loadMe();
    } else if (err.status === 409 && err.details && err.details.existing_id) {
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

document.addEventListener("DOMContentLoaded", async () => {
  const once = takeOnceSecret();
  $("submit-form").addEventListener("submit", submit);
  $("signin-form").addEventListener("submit", submitSignIn);
  $("signout-button").addEventListener("click", signOut);
  $("signin-jump").addEventListener("click", jumpToSignIn);
  $("f-file").addEventListener("change", loadFile);
  $("f-video").addEventListener("input", updateTitleNeed);
  $("f-transcript").addEventListener("input", updateTitleNeed);
  $("list-retry").addEventListener("click", loadList);
  $("form-error").tabIndex = -1;
  window.addEventListener("hashchange", route);
  route();
  renderList();
  if (once) {
    await signInOnce(once);
    return;
  }
  await loadMe();
  restartLive();
  if (location.pathname === "/login" && !state.me) $("f-email").focus();
});
