// CultoTranscript page: the management views (#/channels, #/tokens, #/users, #/account), their
// navigation, and the Channels view. The Tokens, Users and password views live in accounts.js.
//
// What each user sees follows the same policy as the API (access/policy.py): every signed-in
// user sees the channels they belong to and manages their own tokens and password; an owner
// (or an admin) also renames a channel, changes its visibility and manages its members; only an
// admin creates channels and sees the Users view. The server checks every request anyway: a
// hidden control only spares the user a refusal. Uses api(), state, $ and loadMe() of app.js.
"use strict";

const Manage = (() => {
  const VIEWS = ["channels", "tokens", "users", "account"];
  const ADMIN_VIEWS = new Set(["users"]);
  const ROLE_LABEL = { viewer: "Viewer", editor: "Editor", owner: "Owner", admin: "Admin" };
  const loaders = {};   // view -> async () => void, registered by the views
  let current = null;   // the management view shown, or null
  const el = (...args) => Render.el(...args);
  const say = (text) => { $("announcer").textContent = text; };

  function viewOf(hash) {
    const match = hash.match(/^#\/(channels|tokens|users|account)\/?$/);
    return match ? match[1] : null;
  }

  function register(view, load) { loaders[view] = load; }

  // Show `view` (null: none) if the user may see it; called on every route and user change.
  // A view is loaded when it is opened, or opened for another user; not on every change.
  let loadedFor = null;
  function show(view) {
    current = view;
    for (const name of VIEWS) $(name + "-view").hidden = true;
    $("signed-out-view").hidden = true;
    renderNav();
    if (!view) { loadedFor = null; return; }
    if (state.me === undefined) return;   // not known yet: renderAuth() calls again
    if (!state.me || (ADMIN_VIEWS.has(view) && !state.me.user.admin)) {
      $("signed-out-heading").textContent = state.me ? "Only admins see this page" : "Sign in first";
      $("signed-out-view").hidden = false;
      document.title = "CultoTranscript";
      loadedFor = null;
      return;
    }
    const section = $(view + "-view");
    section.hidden = false;
    const heading = section.querySelector("h1");
    document.title = heading.textContent + " — CultoTranscript";
    const key = view + ":" + state.me.user.id;
    if (key === loadedFor) return;
    loadedFor = key;
    heading.focus();
    if (loaders[view]) loaders[view]();
  }

  function renderNav() {
    const me = state.me;
    const nav = $("manage-nav");
    nav.hidden = !me;
    const active = current || "home";
    for (const link of nav.querySelectorAll("a")) {
      const view = link.dataset.view;
      link.hidden = view === "users" && !(me && me.user.admin);
      if (view === (currentId() ? "" : active)) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  // The user changed (signed in or out, roles reloaded): navigation, the offer to set a
  // password, and the current view again.
  function renderAuth() {
    if (typeof Accounts !== "undefined") Accounts.renderOffer();
    show(current);
  }

  // --- form helpers shared by the views ------------------------------------------------------

  // Show an API error on `form`: 422 details next to their fields ([data-field]), the rest in
  // the form's alert. Returns the message shown.
  function showErrors(form, err) {
    clearErrors(form);
    let first = null;
    let firstText = "";
    let rest = null;
    for (const item of (err.details && err.details.errors) || []) {
      const box = form.querySelector(`[data-field="${item.field}"]`);
      const text = Render.sentence(item.message.replace(/^(invalid body: )?[\w.]+: /, ""));
      if (box) {
        box.textContent = text;
        box.hidden = false;
        const input = $(box.id.replace(/-error$/, ""));
        if (input && !first) { first = input; firstText = text; }
        if (input) input.setAttribute("aria-invalid", "true");
      } else rest = rest || text;
    }
    if (first) { first.focus(); return firstText; }
    const alertBox = form.querySelector(".form-error");
    const message = rest || explain(err);
    alertBox.textContent = message;
    alertBox.hidden = false;
    alertBox.focus();
    return message;
  }

  function clearErrors(form) {
    for (const box of form.querySelectorAll(".field-error")) { box.hidden = true; box.textContent = ""; }
    for (const input of form.querySelectorAll("[aria-invalid]")) input.setAttribute("aria-invalid", "false");
    const alertBox = form.querySelector(".form-error");
    if (alertBox) { alertBox.hidden = true; alertBox.textContent = ""; }
  }

  // Plain words for an API error.
  function explain(err) {
    if (err.status === 401) return "You are no longer signed in. Sign in again.";
    if (err.status === 403) return "Your role does not allow this. " + Render.sentence(err.message);
    if (err.status === 429) return "Too many requests. Wait " + (err.retryAfter || 60) + " seconds and try again.";
    if (err.status === 0) return err.message;
    return Render.sentence(err.message) || "Something went wrong.";
  }

  // Run `work` with the form's submit button disabled and its status line kept up to date.
  async function busy(form, pending, work) {
    const button = form.querySelector("button[type=submit]");
    const out = form.querySelector("output");
    clearErrors(form);
    button.disabled = true;
    if (out) { out.className = "submit-result"; out.textContent = pending; }
    try {
      const done = await work();
      if (out) { out.className = "submit-result ok"; out.textContent = done || ""; }
      if (done) say(done);
    } catch (err) {
      if (out) out.textContent = "";
      say(showErrors(form, err));
      if (err.status === 401) sessionEnded("Your session has ended. Sign in again.");
    } finally {
      button.disabled = false;
    }
  }

  // A secret shown once (a token, a generated password), with a Copy button.
  function secretBox(title, secret, note) {
    const code = el("code", { class: "secret-value", tabindex: "0" }, secret);
    const status = el("span", { class: "copy-status", role: "status" });
    const copy = el("button", {
      class: "btn btn-small", type: "button",
      onclick: async () => {
        status.textContent = await copyText(secret) ? "Copied." : "Select it and copy it by hand.";
      },
    }, "Copy");
    return el("div", { class: "secret", role: "region", "aria-label": title },
      el("p", { class: "secret-title" }, el("strong", {}, title)),
      el("div", { class: "secret-row" }, code, copy, status),
      el("p", { class: "small muted" }, note));
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      return false;
    }
  }

  // Ask before something that cannot be undone; resolves true when confirmed.
  function confirmAction(title, text, yes) {
    const dialog = $("confirm-action");
    $("confirm-action-title").textContent = title;
    $("confirm-action-text").textContent = text;
    $("confirm-action-yes").textContent = yes;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.onclose = () => resolve(dialog.returnValue === "yes");
      dialog.showModal();
    });
  }

  function roleSelect(label, value, onchange) {
    return el("select", { "aria-label": label, onchange },
      ["viewer", "editor", "owner"].map((r) => el("option", { value: r, selected: r === value }, ROLE_LABEL[r])));
  }

  // --- the Channels view -------------------------------------------------------------------------

  async function loadChannels() {
    const me = state.me;
    const list = $("channels-list");
    $("channel-create-form").hidden = !me.user.admin;
    $("channels-empty").hidden = true;
    list.setAttribute("aria-busy", "true");
    list.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    try {
      await fillChannels(me);
    } catch (err) {
      list.replaceChildren(el("p", { class: "card alert alert-error", role: "alert" },
        "Could not load the channels: " + explain(err)));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  async function fillChannels(me) {
    const all = await api("GET", "/api/v2/channels");
    const roles = new Map(me.channels.map((c) => [c.id, c.role]));
    // Admins see and manage every channel; others the channels they belong to.
    const shown = me.user.admin ? all : all.filter((c) => roles.has(c.id));
    $("channels-empty").hidden = shown.length > 0;
    const cards = await Promise.all(shown.map((c) => channelCard(c, me.user.admin ? "admin" : roles.get(c.id))));
    if (current === "channels" && state.me === me) $("channels-list").replaceChildren(...cards);
  }

  async function channelCard(channel, role) {
    const manages = role === "admin" || role === "owner";
    const card = el("article", { class: "card channel-card", "data-channel": channel.id,
      "aria-label": "Channel " + channel.name });
    const head = el("div", { class: "card-head" },
      el("h2", {}, channel.name),
      el("span", { class: "channel-badges" },
        Render.channelTag({ name: "", visibility: channel.visibility }),
        el("span", { class: "role-chip role-" + role }, role === "admin" ? "Admin" : "Your role: " + ROLE_LABEL[role])));
    card.append(head, el("p", { class: "muted small" }, "Id " + channel.id));
    if (!manages) {
      card.append(el("p", { class: "muted" },
        "Only its owners and admins rename it, change who may follow it or manage its members."));
      return card;
    }
    card.append(settingsForm(channel));
    let members = [];
    try {
      members = await api("GET", "/api/v2/channels/" + channel.id + "/members");
    } catch (err) {
      card.append(el("p", { class: "alert alert-error" }, "Could not load the members: " + explain(err)));
      return card;
    }
    card.append(membersBlock(channel, members));
    return card;
  }

  function settingsForm(channel) {
    const id = "cs-" + channel.id;
    const form = el("form", { class: "channel-settings", novalidate: true },
      el("h3", {}, "Settings"),
      el("div", { class: "form-error alert alert-error", role: "alert", tabindex: "-1", hidden: true }),
      el("div", { class: "grid-2" },
        el("div", { class: "field" },
          el("label", { for: id + "-name" }, "Name"),
          el("input", { id: id + "-name", name: "name", type: "text", maxlength: 200, value: channel.name,
            "aria-describedby": id + "-name-error" }),
          el("p", { id: id + "-name-error", class: "field-error", "data-field": "name", hidden: true })),
        el("div", { class: "field" },
          el("label", { for: id + "-visibility" }, "Who may follow it"),
          el("select", { id: id + "-visibility", name: "visibility", class: "wide" },
            el("option", { value: "private", selected: channel.visibility === "private" }, "Members only (private)"),
            el("option", { value: "public", selected: channel.visibility === "public" }, "Everyone (public)")))),
      el("div", { class: "actions" },
        el("button", { class: "btn btn-primary", type: "submit" }, "Save changes"),
        el("output", { class: "submit-result", role: "status" })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = form.elements.name.value.trim();
      const visibility = form.elements.visibility.value;
      const body = {};
      if (name !== channel.name) body.name = name;
      if (visibility !== channel.visibility) body.visibility = visibility;
      if (!Object.keys(body).length) {
        form.querySelector("output").textContent = "Nothing to change.";
        return;
      }
      if (body.name === "") {
        showErrors(form, { details: { errors: [{ field: "name", message: "Give the channel a name." }] } });
        return;
      }
      busy(form, "Saving…", async () => {
        const saved = await api("PATCH", "/api/v2/channels/" + channel.id, body);
        Object.assign(channel, saved);
        await loadMe();   // names and badges of the sermons, the submit form's picker
        return "Saved “" + saved.name + "” (" + (saved.visibility === "public" ? "public" : "members only") + ").";
      });
    });
    return form;
  }

  function membersBlock(channel, members) {
    const list = el("ul", { class: "rows members", "aria-label": "Members of " + channel.name },
      members.map((m) => memberRow(channel, m)));
    const empty = el("p", { class: "muted", hidden: members.length > 0 }, "No members yet.");
    const id = "ma-" + channel.id;
    const form = el("form", { class: "member-add", novalidate: true },
      el("div", { class: "form-error alert alert-error", role: "alert", tabindex: "-1", hidden: true }),
      el("div", { class: "add-row" },
        el("div", { class: "field grow" },
          el("label", { for: id + "-email" }, "Add a person by email"),
          el("input", { id: id + "-email", name: "email", type: "email", autocomplete: "off",
            spellcheck: "false", autocapitalize: "off", "aria-describedby": id + "-email-error" }),
          el("p", { id: id + "-email-error", class: "field-error", "data-field": "email", hidden: true })),
        el("div", { class: "field" },
          el("label", { for: id + "-role" }, "Role"),
          el("select", { id: id + "-role", name: "role", class: "wide" },
            ["viewer", "editor", "owner"].map((r) => el("option", { value: r, selected: r === "editor" }, ROLE_LABEL[r])))),
        el("div", { class: "field" },
          el("button", { class: "btn btn-primary", type: "submit" }, "Add"))),
      el("output", { class: "submit-result", role: "status" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = form.elements.email.value.trim();
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
        showErrors(form, { details: { errors: [{ field: "email", message: "Enter an email address, like name@example.org." }] } });
        return;
      }
      busy(form, "Adding…", async () => {
        const added = await api("POST", "/api/v2/channels/" + channel.id + "/members",
          { email, role: form.elements.role.value });
        const existing = list.querySelector(`li[data-user="${added.user_id}"]`);
        const row = memberRow(channel, added);
        if (existing) existing.replaceWith(row); else list.append(row);
        empty.hidden = true;
        form.reset();
        form.elements.role.value = "editor";
        if (state.me && added.user_id === state.me.user.id) await loadMe();
        return added.email + " is now " + ROLE_LABEL[added.role].toLowerCase() + " of " + channel.name + ".";
      });
    });
    return el("section", { class: "members-block", "aria-label": "Members" },
      el("h3", {}, "Members"), empty, list, form);
  }

  function memberRow(channel, member) {
    const row = el("li", { class: "row", "data-user": member.user_id });
    const select = roleSelect("Role of " + member.email, member.role, async () => {
      const role = select.value;
      try {
        await api("PUT", "/api/v2/channels/" + channel.id + "/members/" + member.user_id, { role });
        member.role = role;
        say(member.email + " is now " + ROLE_LABEL[role].toLowerCase() + " of " + channel.name + ".");
        if (state.me && member.user_id === state.me.user.id) { await loadMe(); }
      } catch (err) {
        select.value = member.role;
        say("Could not change the role: " + explain(err));
        alert("Could not change the role of " + member.email + ": " + explain(err));
      }
    });
    const remove = el("button", {
      class: "btn btn-small btn-ghost", type: "button", "aria-label": "Remove " + member.email,
      onclick: async () => {
        const ok = await confirmAction("Remove " + member.email + "?",
          member.email + " will no longer have a role in " + channel.name + ". Their open pages of its " +
          "private sermons close within seconds.", "Remove");
        if (!ok) return;
        try {
          await api("DELETE", "/api/v2/channels/" + channel.id + "/members/" + member.user_id);
          row.remove();
          say("Removed " + member.email + " from " + channel.name + ".");
          if (state.me && member.user_id === state.me.user.id) { await loadMe(); }
        } catch (err) {
          say("Could not remove: " + explain(err));
          alert("Could not remove " + member.email + ": " + explain(err));
        }
      },
    }, "Remove");
    row.append(el("span", { class: "row-main" }, el("span", { class: "row-title" }, member.email)),
      el("span", { class: "row-actions" }, select, remove));
    return row;
  }

  function createChannel(event) {
    event.preventDefault();
    const form = event.target;
    const name = form.elements.name.value.trim();
    if (!name) {
      showErrors(form, { details: { errors: [{ field: "name", message: "Give the channel a name." }] } });
      return;
    }
    busy(form, "Creating…", async () => {
      const created = await api("POST", "/api/v2/channels", { name, visibility: form.elements.visibility.value });
      form.reset();
      await loadMe();
      await loadChannels();
      return "Created “" + created.name + "”.";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("channel-create-form").addEventListener("submit", createChannel);
  });
  register("channels", loadChannels);

  return { viewOf, show, register, renderAuth, renderNav, showErrors, clearErrors, explain, busy,
    secretBox, confirmAction, say, ROLE_LABEL };
})();
