"use strict";
// commarchive reviewer UI. Signs in by sending the bearer token once to
// /api/v1/session, which answers with an HttpOnly session cookie: the token is
// never kept in page storage. Every request sends the custom header the server
// requires of cookie-authenticated changes (against cross-site forgery). Never
// injects item content as HTML, except search snippets, which the API returns
// HTML-escaped with <mark> around matches. An item is shown by the reader
// component (reader.js), which any page can use.
(function () {
  const PAGE_SIZE = 20;
  const FORM_FIELDS = ["q", "channel", "direction", "purpose", "since", "until", "party", "agent", "reviewed", "queue", "queue_status"];
  // Filters that are selects sent as they are, each shown only when the role may use it.
  const SELECTS = ["channel", "direction", "purpose", "agent", "reviewed", "queue", "queue_status"];
  const QUEUE_LABELS = { any: "in any queue", sample: "sampled", policy: "any policy hit", manual: "queued by hand", calibration: "calibration" };
  const state = { user: null, lastQuery: null, reader: null, searches: 0, offset: 0, filters: null, searchAddress: "" };

  const { $, el, request: api } = window.Commarchive;

  function show(section) {
    for (const id of ["login", "admin", "search", "item"]) $(id).hidden = id !== section;
    $("logout").hidden = section === "login";
    if (section === "login") { $("who").textContent = ""; $("setup-warning").hidden = true; }
  }

  function fmtTime(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }


  // One row per mailbox or number: an e-mail names the same address as From and as
  // envelope sender, and as To and envelope recipient.
  function uniqueParties(parties) {
    const byAddress = new Map();
    for (const p of parties) {
      const key = p.kind + ":" + String(p.address).toLowerCase();
      const seen = byAddress.get(key);
      if (!seen) { byAddress.set(key, { ...p, roles: [p.role] }); continue; }
      if (!seen.roles.includes(p.role)) seen.roles.push(p.role);
      if (!seen.name && p.name) seen.name = p.name;
      if (seen.channel_index === null || seen.channel_index === undefined) seen.channel_index = p.channel_index;
    }
    return [...byAddress.values()];
  }

  function shortTime(iso) {
    const d = new Date(iso);
    const month = d.toLocaleString("en-GB", { month: "short" });
    return d.getDate() + " " + month + " " + String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  // "Call with Marieke Smit, 30 Nov 21:32, 0:07": who the company spoke with, when, how long.
  function callTitle(item) {
    const parties = uniqueParties(item.parties);
    let others = parties.filter((p) => p.side === "customer");
    if (others.length === 0) others = parties.filter((p) => p.side !== "agent");
    const names = others.map((p) => p.name || p.address).filter(Boolean);
    const title = names.length ? "Call with " + names.join(" and ") : "Call";
    const parts = [title, shortTime(item.started_at)];
    if (item.duration_s) parts.push(fmtTime(item.duration_s));
    return parts.join(", ");
  }

  function itemTitle(item) {
    if (item.channel === "call") return callTitle(item);
    return (item.details && item.details.subject) || item.title || "(no subject)";
  }

  async function signIn(token) {
    try {
      const body = await (await api("/api/v1/session", { method: "POST", headers: { Authorization: "Bearer " + token } })).json();
      $("token").value = "";
      $("login-error").textContent = "";
      enter(body);
    } catch (err) {
      $("login-error").textContent = err.message;
      show("login");
    }
  }

  async function resume() {
    try {
      enter(await (await api("/api/v1/session")).json());
    } catch (_) {
      show("login");
    }
  }

  async function signOut() {
    try { await api("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
    state.user = null;
    show("login");
  }

  // Every item has its own address, /items/ID: it survives a reload and can be shared
  // with a colleague (who still needs a role that may read it).
  function go(path) {
    const target = path === "/" ? "/" + state.searchAddress : path;
    if (location.pathname + location.search !== target) history.pushState(null, "", target);
  }

  function itemInPath() {
    const m = location.pathname.match(/^\/items\/([^/]+)$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function route() {
    const id = itemInPath();
    if (id) { openItem(id); return; }
    closeReader();
    show("search");
    if (state.lastQuery === null) {
      // A search has its own address (/?q=…&direction=…&page=2): reload or share it.
      const wanted = new URLSearchParams(location.search);
      for (const name of FORM_FIELDS) if (wanted.has(name)) $(name).value = wanted.get(name);
      runSearch(Math.max(0, (Number(wanted.get("page")) || 1) - 1) * PAGE_SIZE);
    }
  }

  async function enter(user) {
    state.user = user;
    $("who").textContent = user.name + " (" + user.role + ")";
    $("privacy-link").hidden = user.role !== "privacy";
    $("approvals-link").hidden = user.role !== "privacy";
    $("training-link").hidden = user.role !== "trainer";
    $("quality-link").hidden = user.role !== "quality";
    $("legal-link").hidden = user.role !== "legal";
    if (user.role === "agent") {  // an agent reads no content: its own reviews are its page
      location.assign("/agent/reviews");
      return;
    }
    if (user.role === "admin") {
      show("admin");
      showSetup();
    } else {
      await loadFilters(); // the choices exist before a search address fills them in
      route();
    }
  }

  // The filters this role may use, from the API (an anonymised role names no person).
  async function loadFilters() {
    if (state.filters) return;
    try {
      state.filters = await (await api("/api/v1/search/filters")).json();
    } catch (_) { return; }
    const fill = (select, values) => {
      for (const v of values) { const o = el("option", v); o.value = v; select.append(o); }
    };
    fill($("direction"), state.filters.directions);
    fill($("purpose"), state.filters.purposes);
    $("party-filter").hidden = !state.filters.party;
    // Agents by name (only roles that see parties are sent any), and the quality team's
    // review and queue filters.
    for (const a of state.filters.agents || []) {
      const o = el("option", a.name + (a.team ? " (" + a.team + ")" : ""));
      o.value = a.name;
      o.title = a.identifiers.join(", ");
      $("agent").append(o);
    }
    $("agent-filter").hidden = !(state.filters.agents || []).length;
    for (const q of state.filters.queues || []) {
      const o = el("option", QUEUE_LABELS[q] || (q.startsWith("policy:") ? "policy " + q.slice(7) : q));
      o.value = q;
      $("queue").append(o);
    }
    for (const v of state.filters.queue_statuses || []) { const o = el("option", v.replace(/_/g, " ")); o.value = v; $("queue_status").append(o); }
    for (const id of ["reviewed-filter", "queue-filter", "queue-status-filter"]) $(id).hidden = !state.filters.review_filters;
  }

  // A reviewer scores the item on the page: a review is opened in the quality workspace.
  async function offerReview(id) {
    const form = $("review-start");
    form.hidden = true;
    form.dataset.itemId = id;
    if (!state.user || state.user.role !== "quality") return;
    if (!state.cards) state.cards = await (await api("/api/v1/quality/scorecards")).json();
    $("review-card").replaceChildren(...state.cards.map((c) => { const o = el("option", c.name + " v" + c.version); o.value = c.id; return o; }));
    form.hidden = state.cards.length === 0;
  }

  async function startReview() {
    const review = await (await api("/api/v1/quality/reviews", { json: { item_id: $("review-start").dataset.itemId, scorecard_id: Number($("review-card").value) } })).json();
    location.assign("/quality/reviews/" + review.id);
  }

  // A date field means that whole day in the user's own time zone.
  function dayStart(value, plusDays) {
    const [y, m, d] = value.split("-").map(Number);
    return new Date(y, m - 1, d + plusDays).toISOString();
  }

  async function showSetup() {
    const body = await (await api("/api/v1/admin/setup")).json();
    $("setup-warning").textContent = body.warning ? "Setup: " + body.warning : "";
    $("setup-warning").hidden = !body.warning;
    $("setup-ok").hidden = Boolean(body.warning);
  }

  async function runSearch(offset = 0) {
    const params = new URLSearchParams({ q: $("q").value, limit: String(PAGE_SIZE), offset: String(offset) });
    for (const name of SELECTS) if ($(name).value && !$(name).closest("label[hidden]")) params.set(name, $(name).value);
    if ($("since").value) params.set("since", dayStart($("since").value, 0));
    if ($("until").value) params.set("until", dayStart($("until").value, 1));
    if (!$("party-filter").hidden && $("party").value.trim()) params.set("party", $("party").value.trim());
    state.lastQuery = params.toString();
    state.offset = offset;
    const shown = new URLSearchParams();
    for (const name of FORM_FIELDS) if ($(name).value) shown.set(name, $(name).value);
    if (offset) shown.set("page", String(offset / PAGE_SIZE + 1));
    state.searchAddress = shown.toString() ? "?" + shown : "";
    if (!itemInPath() && location.search !== state.searchAddress) history.replaceState(null, "", "/" + state.searchAddress);
    $("search-error").textContent = "";
    const list = $("results");
    const mine = ++state.searches; // only the latest search may fill the list
    try {
      const body = await (await api("/api/v1/search?" + params)).json();
      if (mine !== state.searches) return;
      list.replaceChildren();
      const count = body.total.toLocaleString("en") + (body.total_is_lower_bound ? "+" : "");
      $("summary").textContent = count + (body.total === 1 && !body.total_is_lower_bound ? " item" : " items");
      const last = offset + body.items.length;
      $("pager").hidden = offset === 0 && !(body.total > last);
      $("page-info").textContent = body.items.length ? (offset + 1).toLocaleString() + "–" + last.toLocaleString() + " of " + count : "";
      $("prev").disabled = offset === 0;
      $("next").disabled = !(body.total > last || body.total_is_lower_bound) || body.items.length < PAGE_SIZE;
      for (const hit of body.items) {
        const li = el("li");
        li.dataset.id = hit.id;
        const who = uniqueParties(hit.parties).map((p) => p.name || p.address).filter(Boolean).join(", ");
        li.append(el("div", itemTitle(hit), "title"));
        const meta = el("div", hit.channel + " · " + hit.direction + " · " + new Date(hit.started_at).toLocaleString() + " · " + who, "meta");
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
        li.addEventListener("click", () => { go("/items/" + encodeURIComponent(hit.id)); openItem(hit.id, hit.offset_s); });
        list.append(li);
      }
    } catch (err) {
      $("search-error").textContent = err.message;
      if (err.status === 401) show("login");
    }
  }

  function closeReader() {
    if (state.reader) { state.reader.destroy(); state.reader = null; }
  }

  async function openItem(id, startAt) {
    show("item");
    $("item-error").textContent = "";
    closeReader();
    try {
      const item = await (await api("/api/v1/items/" + encodeURIComponent(id))).json();
      $("item-title").textContent = itemTitle(item);
      document.title = itemTitle(item) + " · commarchive";
      const meta = $("item-meta");
      meta.replaceChildren();
      const rows = [["channel", item.channel], ["direction", item.direction],
        ["started", new Date(item.started_at).toLocaleString()],
        ["duration", item.duration_s ? fmtTime(item.duration_s) : ""],
        ["status", item.status + (item.status_reason ? " (" + item.status_reason + ")" : "")],
        ["transcript", transcriptLine(item)], ["read through", item.read_through],
        ["purposes", item.purposes.map((p) => p.purpose + " until " + p.retain_until.slice(0, 10)).join(", ")]];
      for (const [k, v] of rows) { meta.append(el("dt", k)); meta.append(el("dd", v)); }
      const tbody = $("parties").querySelector("tbody");
      tbody.replaceChildren();
      for (const p of uniqueParties(item.parties)) {
        const tr = el("tr");
        for (const v of [p.roles.join(", "), p.side, p.name || "", p.address, p.channel_index ?? ""]) tr.append(el("td", String(v)));
        tbody.append(tr);
      }
      offerReview(id).catch((err) => { $("item-error").textContent = err.message; });
      const box = $("reader");
      box.dataset.itemId = id;
      state.reader = await window.CommarchiveReader.render(box, { item, startAt });
    } catch (err) {
      $("item-error").textContent = err.message;
    }
  }

  // No transcript on purpose says why: a wrong-language transcript would be worse than none.
  function transcriptLine(item) {
    const lang = item.language ? " (" + item.language + ")" : "";
    if (item.transcript_status === "no_model") return "none: no speech model for this call's language" + lang;
    if (item.transcript_status === "language_unknown") return "none: the call's language could not be determined";
    return item.transcript_status + lang;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
    for (const id of [...SELECTS, "since", "until"]) $(id).addEventListener("change", () => runSearch());
    $("clear-filters").addEventListener("click", () => {
      for (const id of [...SELECTS, "since", "until", "party"]) $(id).value = "";
      runSearch();
    });
    $("review-start").addEventListener("submit", (e) => { e.preventDefault(); startReview().catch((err) => { $("item-error").textContent = err.message; }); });
    $("prev").addEventListener("click", () => runSearch(Math.max(0, state.offset - PAGE_SIZE)));
    $("next").addEventListener("click", () => runSearch(state.offset + PAGE_SIZE));
    $("back").addEventListener("click", () => { closeReader(); go("/"); document.title = "commarchive"; show("search"); if (state.lastQuery === null) runSearch(); });
    window.addEventListener("popstate", () => { if (state.user && state.user.role !== "admin") route(); });
    $("logout").addEventListener("click", signOut);
    resume();
  });
})();
