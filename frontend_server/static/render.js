// CultoTranscript page: how videos and summaries look (pure DOM building, no network).
// Shapes follow the DTOs in /api/v2/dtos.ts (VideoDTO, SummaryDTO, BiblePassageDTO, CitationDTO).
"use strict";

const Render = (() => {
  const STATUS_LABEL = {
    PENDING: "Pending", QUEUED: "Queued", PROCESSING: "Processing",
    PROCESSED: "Done", FAILED: "Failed",
  };
  const YOUTUBE_HOSTS = ["youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== undefined && child !== null && child !== false) node.append(child);
    }
    return node;
  }

  function title(video) {
    if (video.title) return video.title;
    if (video.youtube_id) return "YouTube video " + video.youtube_id;
    if (video.url) return video.url;
    return "Untitled sermon";
  }

  // Server messages start lower case ("could not reach YouTube"): shown after a full stop or
  // on their own, they read as sentences.
  function sentence(text) {
    const t = String(text || "").trim();
    return t ? t.charAt(0).toUpperCase() + t.slice(1) : t;
  }

  // The sermon's channel: its name, and whether anyone or only its members may see it.
  function channelTag(channel) {
    if (!channel) return null;
    const badge = channel.visibility
      ? el("span", { class: "vis vis-" + channel.visibility,
        title: channel.visibility === "public" ? "Anyone can see it" : "Only the channel's members can see it" },
      channel.visibility === "public" ? "Public" : "Private")
      : null;
    return el("span", { class: "channel-tag" },
      el("span", { class: "channel-name", title: "Channel" }, channel.name), badge);
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  // A link that opens the video at `seconds`, or null when the video is not on YouTube.
  function watchUrl(video, seconds) {
    let base = null;
    if (video.youtube_id) base = "https://www.youtube.com/watch?v=" + encodeURIComponent(video.youtube_id);
    else if (video.url) {
      try {
        const url = new URL(video.url);
        if (YOUTUBE_HOSTS.includes(url.hostname)) base = url.href;
      } catch (_) { /* not a URL: no link */ }
    }
    if (!base) return null;
    const url = new URL(base);
    url.searchParams.set("t", Math.floor(seconds) + "s");
    return url.href;
  }

  function timeChip(video, seconds, what) {
    if (seconds === null || seconds === undefined) return null;
    const href = watchUrl(video, seconds);
    const label = clock(seconds);
    if (!href) return el("span", { class: "time", title: "At " + label }, label);
    return el("a", {
      class: "time", href, target: "_blank", rel: "noopener noreferrer",
      "aria-label": "Watch " + what + " at " + label + " on YouTube (opens a new tab)",
    }, "▶ " + label);
  }

  function when(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function badge(status) {
    return el("span", { class: "badge badge-" + status }, STATUS_LABEL[status] || status);
  }

  function progress(video) {
    const active = video.status === "QUEUED" || video.status === "PROCESSING";
    return el("progress", {
      class: "bar bar-" + video.status, max: 100, value: video.progress || 0,
      "aria-label": "Progress of " + title(video),
      "aria-valuetext": (video.progress || 0) + "%" + (active ? ", " + (video.status_message || "") : ""),
    });
  }

  function statusLine(video) {
    if (video.status === "FAILED") {
      const reason = (video.error && video.error.message) || video.status_message || "Processing failed.";
      return el("p", { class: "reason" }, el("strong", { text: "Why: " }), sentence(reason));
    }
    if (video.status === "PROCESSED") {
      const s = video.summary;
      const bits = s ? [s.word_count + " words", s.passages.length + " passages", s.themes.length + " themes"] : [];
      return el("p", { class: "muted" }, bits.length ? bits.join(" · ") : "Analysis complete");
    }
    return el("p", { class: "muted" }, (video.status_message || STATUS_LABEL[video.status] || "") +
      (video.status === "PROCESSING" ? " · " + (video.progress || 0) + "%" : ""));
  }

  // One <li> of the live list; `actions` = {onDelete(video), channel: {name, visibility}},
  // without onDelete when the user may not delete this video (no button then).
  function listItem(video, actions) {
    const link = el("a", { class: "video-title", href: "#/videos/" + video.id }, title(video));
    const del = actions.onDelete && el("button", {
      class: "btn btn-small btn-ghost", type: "button",
      "aria-label": "Delete " + title(video), onclick: () => actions.onDelete(video),
    }, "Delete");
    return el("li", { class: "video", "data-id": video.id, "data-status": video.status },
      el("div", { class: "video-row" }, link, badge(video.status)),
      progress(video),
      statusLine(video),
      el("div", { class: "video-row" },
        el("span", { class: "video-meta" }, channelTag(actions.channel),
          el("span", { class: "muted small" }, when(video.created_at))),
        del));
  }

  function section(heading, ...body) {
    return el("section", { class: "summary-part" }, el("h3", { text: heading }), ...body);
  }

  function verses(p) {
    if (p.verse_start === null || p.verse_start === undefined) return p.chapter + " (whole chapter)";
    const end = p.verse_end && p.verse_end !== p.verse_start ? "–" + p.verse_end : "";
    return p.chapter + ":" + p.verse_start + end;
  }

  function summary(video) {
    const s = video.summary;
    const facts = el("dl", { class: "facts" },
      el("div", {}, el("dt", { text: "Speaker" }), el("dd", { text: s.speaker || "Not identified" })),
      el("div", {}, el("dt", { text: "Words" }), el("dd", { text: s.word_count.toLocaleString() })),
      el("div", {}, el("dt", { text: "Language" }), el("dd", { text: s.language === "en" ? "English" : "Portuguese" })),
      el("div", {}, el("dt", { text: "Passages" }), el("dd", { text: String(s.passages.length) })));
    const parts = [facts];
    parts.push(section("Themes", s.themes.length
      ? el("ul", { class: "chips" }, s.themes.map((t) => el("li", { class: "chip" }, t)))
      : el("p", { class: "muted" }, "No themes found.")));
    parts.push(section("Bible passages", s.passages.length
      ? el("ul", { class: "passages" }, s.passages.map((p) => el("li", {},
        el("span", { class: "ref" }, p.reference),
        el("span", { class: "muted small" }, " " + p.book_id + " " + verses(p)),
        el("span", { class: "mentions" }, p.mentions === 1 ? "1 mention" : p.mentions + " mentions"),
        el("span", { class: "times" }, (p.timestamps || []).map((t) => timeChip(video, t, p.reference))))))
      : el("p", { class: "muted" }, "No Bible passages cited.")));
    parts.push(section("Key points", s.key_points.length
      ? el("ol", { class: "points" }, s.key_points.map((point, i) => el("li", {},
        el("span", {}, point), " ", timeChip(video, (s.key_point_timestamps || [])[i], "this point"))))
      : el("p", { class: "muted" }, "No key points.")));
    parts.push(section("Citations", s.citations.length
      ? s.citations.map((c) => el("figure", { class: "citation" },
        el("blockquote", {}, c.text),
        el("figcaption", {}, "— " + c.author, " ", timeChip(video, c.timestamp, "this citation"))))
      : el("p", { class: "muted" }, "No citations.")));
    return el("div", { class: "summary" }, parts);
  }

  // The video view: header, live progress, failure reason, summary (`actions` as for listItem).
  function detail(video, actions) {
    const source = video.youtube_id || video.url
      ? el("a", { href: watchUrl(video, 0) || video.url, target: "_blank", rel: "noopener noreferrer" },
        "Open video")
      : el("span", { class: "muted small" }, "Transcript only (no video)");
    const head = el("header", { class: "detail-head" },
      el("h1", { id: "detail-title", tabindex: "-1" }, title(video)),
      el("div", { class: "video-row" }, badge(video.status), channelTag(actions.channel),
        el("span", { class: "muted small" }, "Submitted " + when(video.created_at) + " · "), source));
    const body = [head];
    if (video.status !== "PROCESSED" && video.status !== "FAILED") body.push(progress(video), statusLine(video));
    if (video.status === "FAILED" && video.error) {
      body.push(el("div", { class: "alert alert-error", role: "alert" },
        el("strong", { text: "This sermon could not be processed. " }), sentence(video.error.message),
        el("p", { class: "small muted" }, "Code: " + video.error.code)));
    }
    if (video.summary) body.push(summary(video));
    else if (video.status !== "FAILED") {
      body.push(el("p", { class: "muted waiting" }, "The summary appears here when the analysis is done."));
    }
    if (actions.onDelete) {
      body.push(el("div", { class: "actions" },
        el("button", { class: "btn btn-danger", type: "button", onclick: () => actions.onDelete(video) },
          "Delete sermon")));
    }
    return body;
  }

  return { el, title, listItem, detail, sentence, channelTag, when, STATUS_LABEL };
})();
