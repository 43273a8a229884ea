"use strict";
// commarchive reviewer UI. Talks to /api/v1 with the bearer token kept in
// sessionStorage (this tab only). Never injects item content as HTML, except
// search snippets, which the API returns HTML-escaped with <mark> around matches.
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem("commarchive-token"), lastQuery: null, audioUrl: null };

  async function api(path, opts = {}) {
    const resp = await fetch(path, { headers: { Authorization: "Bearer " + state.token }, ...opts });
    if (!resp.ok) {
      let message = resp.status + " " + resp.statusText;
      try { const body = await resp.json(); message = body.error.code + ": " + body.error.message; } catch (_) { /* not JSON */ }
      const err = new Error(message); err.status = resp.status; throw err;
    }
    return resp;
  }

  function show(section) {
    for (const id of ["login", "search", "item"]) $(id).hidden = id !== section;
    $("logout").hidden = section === "login";
  }

  function fmtTime(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  async function signIn(token) {
    state.token = token;
    try {
      await api("/api/v1/search?limit=1");
      sessionStorage.setItem("commarchive-token", token);
      $("login-error").textContent = "";
      show("search");
      runSearch();
    } catch (err) {
      state.token = null;
      sessionStorage.removeItem("commarchive-token");
      $("login-error").textContent = err.message;
      show("login");
    }
  }

  async function runSearch() {
    const params = new URLSearchParams({ q: $("q").value, limit: "50" });
    if ($("channel").value) params.set("channel", $("channel").value);
    state.lastQuery = params.toString();
    $("search-error").textContent = "";
    const list = $("results");
    list.replaceChildren();
    try {
      const body = await (await api("/api/v1/search?" + params)).json();
      const count = body.total.toLocaleString("en") + (body.total_is_lower_bound ? "+" : "");
      $("summary").textContent = count + (body.total === 1 && !body.total_is_lower_bound ? " item" : " items");
      for (const hit of body.items) {
        const li = el("li");
        li.dataset.id = hit.id;
        const who = hit.parties.map((p) => p.name || p.address).filter(Boolean).join(", ");
        li.append(el("div", (hit.title || (hit.channel === "call" ? "Call" : "(no subject)")), "title"));
        const meta = el("div", hit.channel + " · " + new Date(hit.started_at).toLocaleString() + " · " + who, "meta");
        li.append(meta);
        const snippet = el("div", null, "snippet");
        if (hit.speaker) snippet.append(el("span", hit.speaker + " at " + fmtTime(hit.offset_s) + ": ", "speaker"));
        const text = el("span");
        text.innerHTML = hit.snippet; // escaped by the server, only <mark> added
        snippet.append(text);
        li.append(snippet);
        const tags = el("div");
        for (const p of hit.purposes) tags.append(el("span", p, "tag"));
        li.append(tags);
        li.addEventListener("click", () => openItem(hit.id, hit.offset_s));
        list.append(li);
      }
    } catch (err) {
      $("search-error").textContent = err.message;
      if (err.status === 401) show("login");
    }
  }

  async function openItem(id, startAt) {
    show("item");
    $("item-error").textContent = "";
    for (const id2 of ["player", "transcript-box", "mail-box"]) $(id2).hidden = true;
    $("transcript").replaceChildren();
    $("mail").textContent = "";
    if (state.audioUrl) { URL.revokeObjectURL(state.audioUrl); state.audioUrl = null; }
    try {
      const item = await (await api("/api/v1/items/" + encodeURIComponent(id))).json();
      $("item-title").textContent = item.details.subject || item.details.title || (item.channel === "call" ? "Call" : "(no subject)");
      const meta = $("item-meta");
      meta.replaceChildren();
      const rows = [["channel", item.channel], ["direction", item.direction],
        ["started", new Date(item.started_at).toLocaleString()],
        ["duration", item.duration_s ? fmtTime(item.duration_s) : ""],
        ["status", item.status + (item.status_reason ? " (" + item.status_reason + ")" : "")],
        ["transcript", item.transcript_status], ["read through", item.read_through],
        ["purposes", item.purposes.map((p) => p.purpose + " until " + p.retain_until.slice(0, 10)).join(", ")]];
      for (const [k, v] of rows) { meta.append(el("dt", k)); meta.append(el("dd", v)); }
      const tbody = $("parties").querySelector("tbody");
      tbody.replaceChildren();
      for (const p of item.parties) {
        const tr = el("tr");
        for (const v of [p.role, p.side, p.name || "", p.address, p.channel_index ?? ""]) tr.append(el("td", String(v)));
        tbody.append(tr);
      }
      if (item.channel === "call") {
        const audio = await (await api("/api/v1/items/" + encodeURIComponent(id) + "/content")).blob();
        state.audioUrl = URL.createObjectURL(audio);
        $("audio").src = state.audioUrl;
        $("player").hidden = false;
        if (startAt) $("audio").currentTime = startAt;
        if (item.transcript_status === "done") await showTranscript(id);
      } else {
        const resp = await api("/api/v1/items/" + encodeURIComponent(id) + "/content");
        $("mail").textContent = await resp.text(); // text only: never rendered as HTML
        $("mail-box").hidden = false;
      }
    } catch (err) {
      $("item-error").textContent = err.message;
    }
  }

  async function showTranscript(id) {
    const body = await (await api("/api/v1/items/" + encodeURIComponent(id) + "/transcript")).json();
    const lines = [];
    for (const ch of body.transcript.speakers || []) {
      for (const u of ch.utterances || []) lines.push({ speaker: ch.label, start: u.start, text: u.text });
    }
    lines.sort((a, b) => a.start - b.start);
    const list = $("transcript");
    for (const line of lines) {
      const li = el("li");
      li.append(el("span", fmtTime(line.start), "at"), el("span", line.speaker, "speaker"), el("span", line.text));
      li.addEventListener("click", () => { $("audio").currentTime = line.start; $("audio").play().catch(() => {}); });
      list.append(li);
    }
    $("transcript-box").hidden = lines.length === 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
    $("back").addEventListener("click", () => show("search"));
    $("logout").addEventListener("click", () => { sessionStorage.removeItem("commarchive-token"); state.token = null; show("login"); });
    if (state.token) signIn(state.token); else show("login");
  });
})();
