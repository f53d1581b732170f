// CultoTranscript page: the Tokens view (#/tokens), the Users view for admins (#/users), the
// password view (#/account) and the offer to set a password after signing in with a one-time
// link. Builds on manage.js (Manage) and app.js (api, state, $, loadMe).
"use strict";

const Accounts = (() => {
  const el = (...args) => Render.el(...args);
  const SCOPE_LABEL = { read: "read", write: "write", publish: "publish", admin: "admin" };
  const OFFER_KEY = "culto.password-offer-dismissed.";

  function when(iso, none) { return iso ? Render.when(iso) : none; }

  // --- password: the form, the offer after a one-time link, the view -------------------------

  // A form that sets the signed-in user's password. Without `current` (a session opened by a
  // one-time link, within its hour) it asks only for the new one, twice.
  function passwordForm(prefix, current, onDone) {
    const field = (name, label, autocomplete) => el("div", { class: "field" },
      el("label", { for: prefix + "-" + name }, label),
      el("input", { id: prefix + "-" + name, name, type: "password", autocomplete,
        "aria-describedby": prefix + "-" + name + "-error" }),
      el("p", { id: prefix + "-" + name + "-error", class: "field-error", "data-field": name, hidden: true }));
    const form = el("form", { class: "password-form", novalidate: true },
      el("div", { class: "form-error alert alert-error", role: "alert", tabindex: "-1", hidden: true }),
      current ? field("current_password", "Current password", "current-password") : null,
      field("new_password", "New password (at least 10 characters)", "new-password"),
      field("confirm", "New password again", "new-password"),
      el("div", { class: "actions" },
        el("button", { class: "btn btn-primary", type: "submit" }, "Set password"),
        el("output", { class: "submit-result", role: "status" })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      const errors = [];
      if (current && !data.current_password) errors.push({ field: "current_password", message: "Enter your current password." });
      if ((data.new_password || "").length < 10) errors.push({ field: "new_password", message: "Use at least 10 characters." });
      else if (data.confirm !== data.new_password) errors.push({ field: "confirm", message: "The two new passwords differ." });
      if (errors.length) { Manage.showErrors(form, { details: { errors } }); return; }
      Manage.clearErrors(form);
      const body = { new_password: data.new_password };
      if (current) body.current_password = data.current_password;
      Manage.busy(form, "Saving…", async () => {
        await api("POST", "/api/v2/auth/password", body);
        form.reset();
        if (onDone) await onDone();
        return "Password set. Your other sessions were signed out; this one stays signed in.";
      });
    });
    return form;
  }

  // One key per link session (its window's end), so a later link offers again.
  function offerKey(me) { return OFFER_KEY + me.user.id + "." + me.set_password_until; }

  function offerDismissed(me) {
    try { return sessionStorage.getItem(offerKey(me)) === "1"; } catch (_) { return false; }
  }

  // After signing in with a one-time link, the home page offers to set a password (once per
  // browser session: "Not now" hides it; the Password view still works).
  let done = false;   // a password was just set in the offer: its card stays to say so
  function renderOffer() {
    const me = state.me;
    const card = $("password-offer");
    if (done && me) return;
    done = false;
    const show = !!(me && me.set_password_until && !offerDismissed(me));
    if (show === !card.hidden) return;
    card.hidden = !show;
    if (!show) { $("offer-form").replaceChildren(); return; }
    const later = el("button", { class: "btn", type: "button", onclick: () => {
      try { sessionStorage.setItem(offerKey(me), "1"); } catch (_) { /* private mode */ }
      card.hidden = true;
      Manage.say("You can set a password later on the Password page.");
    } }, "Not now");
    const form = passwordForm("offer", false, async () => {
      try { sessionStorage.setItem(offerKey(me), "1"); } catch (_) { /* private mode */ }
      done = true;   // keep the card (and its confirmation) until the next visit
      await loadMe();
    });
    form.querySelector(".actions").append(later);
    $("offer-form").replaceChildren(form);
  }

  function loadAccount() {
    const me = state.me;
    const viaLink = !!me.set_password_until;
    $("account-lead").textContent = viaLink
      ? "You signed in with a one-time link: until " + Render.when(me.set_password_until) +
        " you can set a password without the current one. Setting it signs you out everywhere else."
      : "Changing it signs you out everywhere else; this browser stays signed in.";
    $("account-form").replaceChildren(passwordForm("acct", !viaLink, loadMe));
  }

  // --- the Tokens view ----------------------------------------------------------------------------

  function channelName(id) {
    if (!id) return "any channel";
    const known = state.channels && state.channels.get(id);
    return known ? known.name : id;
  }

  async function loadTokens() {
    const select = $("t-channel");
    const chosen = select.value;
    const channels = [...(state.channels ? state.channels.values() : [])].sort((a, b) => a.name.localeCompare(b.name));
    select.replaceChildren(el("option", { value: "" }, "Any channel I may use"),
      ...channels.map((c) => el("option", { value: c.id }, c.name + (c.visibility === "public" ? " (public)" : ""))));
    select.value = channels.some((c) => c.id === chosen) ? chosen : "";
    const list = $("token-list");
    list.setAttribute("aria-busy", "true");
    try {
      const tokens = await api("GET", "/api/v2/tokens");
      $("tokens-empty").hidden = tokens.length > 0;
      $("token-count").textContent = tokens.length ? tokens.length + (tokens.length === 1 ? " token" : " tokens") : "";
      list.replaceChildren(...tokens.slice().reverse().map(tokenRow));
    } catch (err) {
      list.replaceChildren(el("li", { class: "alert alert-error" }, "Could not load your tokens: " + Manage.explain(err)));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  function tokenRow(token) {
    const expired = token.expires_at && new Date(token.expires_at) <= new Date();
    const label = token.name || "Unnamed token";
    const revoke = el("button", {
      class: "btn btn-small btn-ghost", type: "button", "aria-label": "Revoke " + label,
      onclick: async () => {
        const ok = await Manage.confirmAction("Revoke “" + label + "”?",
          "Programs using it are refused at once, and its open event streams end within seconds. " +
          "This cannot be undone.", "Revoke");
        if (!ok) return;
        try {
          await api("DELETE", "/api/v2/tokens/" + token.id);
          Manage.say("Revoked “" + label + "”.");
          await loadTokens();
          $("token-list-heading").focus();
        } catch (err) {
          Manage.say("Could not revoke: " + Manage.explain(err));
          alert("Could not revoke “" + label + "”: " + Manage.explain(err));
        }
      },
    }, "Revoke");
    return el("li", { class: "row token-row", "data-token": token.id },
      el("span", { class: "row-main" },
        el("span", { class: "row-title" }, label),
        el("span", { class: "chips" },
          el("span", { class: "chip chip-scope" }, SCOPE_LABEL[token.scope] || token.scope),
          el("span", { class: "chip" }, channelName(token.channel_id)),
          expired ? el("span", { class: "chip chip-bad" }, "expired") : null),
        el("span", { class: "muted small" },
          "Created " + when(token.created_at, "—") + " · " +
          (token.expires_at ? (expired ? "expired " : "expires ") + Render.when(token.expires_at) : "never expires") +
          " · " + (token.last_used_at ? "last used " + Render.when(token.last_used_at) : "never used"),
          el("span", { class: "token-id" }, " · " + token.id))),
      el("span", { class: "row-actions" }, revoke));
  }

  function createToken(event) {
    event.preventDefault();
    const form = event.target;
    const data = Object.fromEntries(new FormData(form));
    const body = { scope: data.scope };
    if (data.name.trim()) body.name = data.name.trim();
    if (data.channel_id) body.channel_id = data.channel_id;
    if (data.expires_in_days) body.expires_in_days = Number(data.expires_in_days);
    Manage.busy(form, "Creating…", async () => {
      const created = await api("POST", "/api/v2/tokens", body);
      const box = $("token-created");
      box.replaceChildren(Manage.secretBox("Your new token “" + (created.name || "Unnamed token") + "”",
        created.token, "Copy it now: it is shown only this once. Programs send it in a header, " +
        "Authorization: Bearer …, never in a link."));
      box.hidden = false;
      form.elements.name.value = "";
      await loadTokens();
      box.querySelector("code").focus();
      return "Token created. Copy it now: it is shown only once.";
    });
  }

  // --- the Users view (admins) ----------------------------------------------------------------

  async function loadUsers() {
    const list = $("user-list");
    list.setAttribute("aria-busy", "true");
    try {
      const users = await api("GET", "/api/v2/users");
      $("user-count").textContent = users.length + (users.length === 1 ? " user" : " users");
      list.replaceChildren(...users.map(userRow));
    } catch (err) {
      list.replaceChildren(el("li", { class: "alert alert-error" }, "Could not load the users: " + Manage.explain(err)));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  function userRow(user) {
    const me = state.me && state.me.user.id === user.id;
    const result = el("div", { class: "row-result" });
    const reset = me ? null : el("button", {
      class: "btn btn-small", type: "button", "aria-label": "Reset the password of " + user.email,
      onclick: async () => {
        const ok = await Manage.confirmAction("Reset the password of " + user.email + "?",
          "A new password is generated and shown to you once. " + user.email + " is signed out " +
          "everywhere and signs in with the new one.", "Reset password");
        if (!ok) return;
        try {
          const done = await api("PUT", "/api/v2/users/" + user.id + "/password", {});
          result.replaceChildren(Manage.secretBox("New password of " + user.email, done.password,
            "Give it to them in person or by a private message; it is shown only this once."));
          result.querySelector("code").focus();
          Manage.say("The password of " + user.email + " was reset.");
        } catch (err) {
          Manage.say("Could not reset: " + Manage.explain(err));
          alert("Could not reset the password of " + user.email + ": " + Manage.explain(err));
        }
      },
    }, "Reset password");
    const channels = user.channels.length
      ? user.channels.map((c) => c.name + " (" + Manage.ROLE_LABEL[c.role].toLowerCase() + ")").join(", ")
      : "no channel yet";
    return el("li", { class: "row user-row", "data-user": user.id },
      el("span", { class: "row-main" },
        el("span", { class: "row-title" }, user.email,
          user.admin ? el("span", { class: "role-chip role-admin" }, "Admin") : null,
          me ? el("span", { class: "muted small" }, " (you)") : null),
        el("span", { class: "muted small" }, channels + " · since " + Render.when(user.created_at))),
      el("span", { class: "row-actions" }, reset),
      result);
  }

  function createUser(event) {
    event.preventDefault();
    const form = event.target;
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    const errors = [];
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) errors.push({ field: "email", message: "Enter an email address, like name@example.org." });
    if (password && password.length < 10) errors.push({ field: "password", message: "Use at least 10 characters, or leave it empty to generate one." });
    if (errors.length) { Manage.showErrors(form, { details: { errors } }); return; }
    const body = { email, admin: form.elements.admin.checked };
    if (password) body.password = password;
    Manage.busy(form, "Creating…", async () => {
      const created = await api("POST", "/api/v2/users", body);
      const box = $("user-created");
      box.replaceChildren(created.password
        ? Manage.secretBox("Password of " + created.user.email, created.password,
          "Give it to them privately; it is shown only this once. They can change it on the Password page.")
        : el("p", {}, created.user.email + " can now sign in with the password you chose."));
      box.hidden = false;
      form.reset();
      await loadUsers();
      return "Created " + created.user.email + ". Give them a role on the Channels page.";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", createToken);
    $("user-form").addEventListener("submit", createUser);
  });
  Manage.register("tokens", loadTokens);
  Manage.register("users", loadUsers);
  Manage.register("account", async () => loadAccount());

  return { renderOffer };
})();
