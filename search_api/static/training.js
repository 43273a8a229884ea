"use strict";
// commarchive trainers' workspace: /training (the sets), /training/sets/new (the
// builder), /training/sets/ID (preview and export). Signs in like the reader page
// (a token buys an HttpOnly session cookie). Everything shown comes from
// /api/v1/training, which answers only anonymised, pseudonymised text; it is always
// inserted as text, never as HTML.
(function () {
  const SECTIONS = ["login", "sets", "builder", "set"];

  const { $, el, request: api } = window.Commarchive;


  function show(section) {
    for (const id of SECTIONS) $(id).hidden = id !== section;
    $("logout").hidden = section === "login";
  }

  function day(iso) { return iso ? iso.slice(0, 10) : "—"; }

  function setPath() {
    const m = location.pathname.match(/^\/training\/sets\/([^/]+)$/);
    return m && m[1] !== "new" ? decodeURIComponent(m[1]) : null;
  }

  async function route() {
    if (location.pathname === "/training/sets/new") { show("builder"); $("f-title").focus(); return; }
    const id = setPath();
    if (id) { await openSet(id); return; }
    await listSets();
  }

  async function listSets() {
    show("sets");
    const body = $("set-list").querySelector("tbody");
    body.replaceChildren();
    const sets = await (await api("/api/v1/training/sets")).json();
    $("sets-empty").hidden = sets.length > 0;
    for (const s of sets) {
      const tr = el("tr");
      tr.dataset.id = s.id;
      const link = el("a", s.title);
      link.href = "/training/sets/" + encodeURIComponent(s.id);
      const title = el("td"); title.append(link);
      tr.append(title, statusCell(s.status), el("td", String(s.items)), el("td", day(s.expires_at)), el("td", s.created_by));
      body.append(tr);
    }
  }

  function statusCell(status) {
    const td = el("td");
    td.append(el("span", status === "exported" ? "handed out" : "draft", "tag ts-" + status));
    return td;
  }

  async function build(e) {
    e.preventDefault();
    $("builder-error").textContent = "";
    const body = {
      title: $("f-title").value.trim(), purpose: $("f-purpose").value.trim(),
      size: Number($("f-size").value), seed: Number($("f-seed").value || 0),
      surrogates: $("f-surrogates").checked,
    };
    for (const [key, id] of [["channel", "f-channel"], ["language", "f-language"], ["since", "f-since"], ["until", "f-until"], ["stratify", "f-stratify"], ["topic", "f-topic"]]) {
      if ($(id).value.trim()) body[key] = $(id).value.trim();
    }
    if ($("f-reviewed").value) body.reviewed = $("f-reviewed").value === "true";
    for (const [key, id] of [["score_min", "f-score-min"], ["score_max", "f-score-max"]]) {
      if ($(id).value !== "") body[key] = Number($(id).value);
    }
    try {
      const made = await (await api("/api/v1/training/sets", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      })).json();
      history.pushState(null, "", "/training/sets/" + encodeURIComponent(made.id));
      await route();
    } catch (err) {
      $("builder-error").textContent = err.message;
    }
  }

  function criteriaText(c) {
    const parts = [c.size + " items"];
    parts.push(c.channel ? c.channel : "e-mail and calls");
    if (c.language) parts.push("language " + c.language);
    if (c.since || c.until) parts.push((c.since || "…") + " to " + (c.until || "…"));
    if (c.stratify) parts.push("equal per " + c.stratify);
    if (c.reviewed !== null && c.reviewed !== undefined) parts.push(c.reviewed ? "reviewed" : "not reviewed");
    if (c.score_min !== null && c.score_min !== undefined) parts.push("score ≥ " + c.score_min);
    if (c.score_max !== null && c.score_max !== undefined) parts.push("score ≤ " + c.score_max);
    if (c.topic) parts.push("queue topic " + c.topic);
    parts.push("seed " + c.seed);
    return parts.join(", ");
  }

  async function openSet(id) {
    show("set");
    $("set-error").textContent = "";
    let body;
    try {
      body = await (await api("/api/v1/training/sets/" + encodeURIComponent(id))).json();
    } catch (err) {
      $("set-title").textContent = "Training set";
      $("set-error").textContent = err.message;
      return;
    }
    const s = body.set;
    document.title = s.title + " · training sets";
    $("set-title").textContent = s.title;
    const meta = $("set-meta");
    meta.replaceChildren();
    const rows = [["purpose", s.purpose], ["criteria", criteriaText(s.criteria)],
      ["pseudonyms", s.surrogates ? "realistic surrogates" : "labels such as [Klant-1]"],
      ["status", s.status === "exported" ? "handed out " + day(s.exported_at) + " by " + s.exported_by : "draft (not handed out)"],
      ["built", day(s.created_at) + " by " + s.created_by], ["expires", day(s.expires_at)]];
    for (const [k, v] of rows) { meta.append(el("dt", k), el("dd", v)); }
    meta.querySelector("dd:nth-of-type(4)").id = "set-status";
    $("item-count").textContent = "(" + body.items.length + ")";
    const list = $("preview");
    list.replaceChildren();
    for (const item of body.items) {
      const li = el("li", null, "ts-item");
      li.dataset.id = item.id;
      const head = el("div", null, "ts-head");
      head.append(el("span", item.id, "tag"), el("span", item.channel === "call" ? "call" : "e-mail", "tag"),
        el("span", item.language || "?", "tag"), el("strong", item.title));
      const counts = el("div", null, "meta");
      const names = Object.entries(item.redactions).map(([k, n]) => k.toLowerCase() + " " + n);
      counts.textContent = "redacted: " + (names.length ? names.join(", ") : "nothing") + " · " + item.date;
      const text = el("pre", item.text, "ts-text");
      li.append(head, counts, text);
      list.append(li);
    }
    const leftOut = [...s.excluded, ...body.unavailable, ...s.gone.map((g) => ({ id: g.id, channel: "", reason: g.reason }))];
    $("left-out-box").hidden = leftOut.length === 0;
    $("left-out").replaceChildren(...leftOut.map((x) => el("li", x.id + (x.channel ? " (" + x.channel + ")" : "") + ": " + x.reason)));
    $("export").onclick = () => exportSet(s.id);
  }

  async function exportSet(id) {
    $("export-note").textContent = "Preparing the ZIP…";
    try {
      const blob = await (await api("/api/v1/training/sets/" + encodeURIComponent(id) + "/export")).blob();
      const url = URL.createObjectURL(blob);
      const a = el("a");
      a.href = url; a.download = id + ".zip";
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      await openSet(id);
      $("export-note").textContent = "Exported " + id + ".zip: the set now counts as handed out.";
    } catch (err) {
      $("export-note").textContent = "";
      $("set-error").textContent = err.message;
    }
  }

  async function enter() {
    let user;
    try { user = await (await api("/api/v1/session")).json(); } catch (_) { show("login"); return; }
    $("who").textContent = user.name + " (" + user.role + ")";
    if (user.role !== "trainer") {
      show("sets");
      $("set-list").hidden = true;
      $("new-set").hidden = true;
      $("sets-empty").hidden = false;
      $("sets-empty").textContent = "Training sets are for the trainer role; you are signed in as " + user.role + ".";
      return;
    }
    try { await route(); } catch (err) { $("set-error").textContent = err.message; }
  }

  async function signIn(token) {
    try {
      await api("/api/v1/session", { method: "POST", headers: { Authorization: "Bearer " + token } });
      $("token").value = "";
      $("login-error").textContent = "";
      await enter();
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
    $("builder-form").addEventListener("submit", build);
    $("logout").addEventListener("click", async () => {
      try { await api("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
      show("login");
      $("who").textContent = "";
    });
    window.addEventListener("popstate", () => { route(); });
    enter();
  });
})();
