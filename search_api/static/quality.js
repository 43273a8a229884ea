"use strict";
// commarchive quality workspace. One page, one screen per address:
// /quality/queue, /quality/reviews/ID, /quality/scorecards, /quality/stats,
// /quality/backfills, /quality/backfills/ID, /quality/calibration/ITEM, /agent/reviews. Signs in like the reader (the token
// once, then an HttpOnly session cookie); never injects content as HTML; charts are
// SVG drawn here. A policy hit is shown as a highlight for a person to judge. The item
// under review is shown by the reader component (reader.js), as on the search page: the
// same player, waveform and transcript, with the comments as markers on its timeline.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const SCREENS = ["login", "queue", "review", "scorecards", "stats", "backfills", "calibration", "agent"];
  const state = { user: null, reader: null, isCall: false, review: null, cards: [], poll: 0 };
  const POLL_MS = 1000;

  const { $, el, request: api } = window.Commarchive;
  const getJson = async (path) => (await api(path)).json();
  const send = async (method, path, json) => (await api(path, { method, json })).json();

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function fmtTime(seconds) {
    const s = Math.floor(seconds || 0);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function show(screen) {
    for (const id of SCREENS) $(id).hidden = id !== screen;
    $("logout").hidden = screen === "login";
    $("q-nav").hidden = !state.user || state.user.role !== "quality";
    for (const a of document.querySelectorAll("#q-nav a")) a.classList.toggle("current", a.dataset.nav === screen);
  }
  function go(path) {
    if (location.pathname !== path) history.pushState(null, "", path);
    route();
  }
  function fail(err) {
    $("q-error").textContent = err.message;
    if (err.status === 401) show("login");
  }

  function closeReader() {
    if (state.reader) { state.reader.destroy(); state.reader = null; }
  }

  async function route() {
    $("q-error").textContent = "";
    state.poll += 1;
    closeReader();
    const path = location.pathname;
    let m;
    try {
      if (state.user.role === "agent" || path === "/agent/reviews") return await agentReviews();
      if ((m = path.match(/^\/quality\/reviews\/(\d+)$/))) return await openReview(Number(m[1]));
      if ((m = path.match(/^\/quality\/calibration\/([^/]+)$/))) return await calibration(decodeURIComponent(m[1]));
      if (path === "/quality/scorecards") return await scorecards();
      if (path === "/quality/stats") return await stats();
      if ((m = path.match(/^\/quality\/backfills\/(\d+)$/))) return await backfills(Number(m[1]));
      if (path === "/quality/backfills") return await backfills(null);
      return await queue();
    } catch (err) { fail(err); }
  }

  // -- queue ------------------------------------------------------------------------
  async function loadCards(select) {
    state.cards = await getJson("/api/v1/quality/scorecards");
    select.replaceChildren(...state.cards.map((c) => { const o = el("option", c.name + " v" + c.version); o.value = c.id; return o; }));
  }

  async function queue() {
    show("queue");
    document.title = "Queue · quality";
    await loadCards($("queue-card"));
    const params = new URLSearchParams();
    if ($("queue-status").value) params.set("status", $("queue-status").value);
    const entries = await getJson("/api/v1/quality/queue?" + params);
    const tbody = $("queue-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const e of entries) {
      const tr = el("tr");
      tr.dataset.item = e.item_id;
      const why = e.source === "policy" ? "policy " + e.policy : e.source;
      for (const v of [e.item_id.slice(-8), why, e.agent, String(e.hits.length), e.status, e.assignee || ""]) tr.append(el("td", v));
      const td = el("td");
      const start = el("button", e.source === "calibration" ? "Calibrate" : "Review");
      start.className = "q-start";
      start.addEventListener("click", () => startReview(e).catch(fail));
      td.append(start);
      tr.append(td);
      tbody.append(tr);
    }
    $("queue-empty").hidden = entries.length > 0;
  }

  async function startReview(entry) {
    if (entry.source === "calibration") return go("/quality/calibration/" + encodeURIComponent(entry.item_id));
    await send("PATCH", "/api/v1/quality/queue/" + entry.id, { assignee: state.user.name, status: "in_review" });
    const review = await send("POST", "/api/v1/quality/reviews", { item_id: entry.item_id, scorecard_id: Number($("queue-card").value) });
    go("/quality/reviews/" + review.id);
  }

  // -- one review -------------------------------------------------------------------
  async function openReview(id) {
    show("review");
    const review = await getJson("/api/v1/quality/reviews/" + id);
    state.review = review;
    const item = await getJson("/api/v1/items/" + encodeURIComponent(review.item_id));
    $("review-title").textContent = (item.channel === "call" ? "Call " : "E-mail ") + new Date(item.started_at).toLocaleString();
    document.title = "Review " + id + " · quality";
    $("review-meta").textContent = "agent " + (review.agent || "unknown") + " · scorecard " + review.scorecard.name +
      " v" + review.scorecard.version + (review.calibration ? " · calibration (blind)" : "") + " · reviewer " + review.reviewer;
    state.isCall = item.channel === "call";
    $("comment-button").textContent = state.isCall ? "Comment at 0:00" : "Comment on the message";
    const hits = (await getJson("/api/v1/quality/queue?limit=500").catch(() => []))
      .filter((e) => e.item_id === review.item_id).flatMap((e) => e.hits);
    closeReader();
    const box = $("review-reader");
    box.dataset.itemId = item.id;
    const reader = await window.CommarchiveReader.render(box, { item });
    state.reader = reader;
    if (reader.audio) {
      reader.audio.addEventListener("timeupdate", () => { $("comment-button").textContent = "Comment at " + fmtTime(reader.audio.currentTime); });
    }
    reader.setHighlights(hits.filter((h) => h.start_s !== undefined && h.start_s !== null)
      .map((h) => ({ start: h.start_s, end: h.end_s, label: "policy hit: " + h.rule })));
    await showComments();
    drawCard(review);
  }

  async function showComments() {
    const review = state.review;
    const comments = await getJson("/api/v1/quality/items/" + encodeURIComponent(review.item_id) + "/comments");
    const list = $("comments");
    list.replaceChildren();
    const marks = [];
    for (const c of comments) {
      const li = el("li");
      if (c.at_seconds !== null) {
        const at = el("button", fmtTime(c.at_seconds), "at");
        at.addEventListener("click", () => { if (state.reader) state.reader.seek(c.at_seconds); });
        li.append(at);
        marks.push({ at: c.at_seconds, label: c.author + ": " + c.text });
      }
      li.append(el("span", c.author + ": ", "meta"), el("span", c.text));
      list.append(li);
    }
    if (state.reader) state.reader.setMarkers(marks);
  }

  function drawCard(review) {
    const form = $("card-form");
    form.replaceChildren();
    $("card-title").textContent = "Scorecard: " + review.scorecard.name + " v" + review.scorecard.version;
    const done = review.submitted_at !== null;
    for (const section of review.scorecard.sections) {
      form.append(el("h4", section.title));
      for (const c of section.criteria) {
        const row = el("div", null, "q-crit");
        row.append(el("span", c.label + " (weight " + c.weight + (c.auto_fail ? ", auto-fail" : "") + ")"));
        const answers = el("span");
        for (const a of ["yes", "partial", "no", "na"]) {
          const label = el("label");
          const input = el("input");
          input.type = "radio"; input.name = c.id; input.value = a; input.required = true; input.disabled = done;
          input.checked = review.answers[c.id] === a;
          label.append(input, " " + a);
          answers.append(label);
        }
        row.append(answers);
        form.append(row);
      }
    }
    const summary = el("textarea");
    summary.id = "card-summary"; summary.rows = 3; summary.cols = 80; summary.placeholder = "Summary";
    summary.value = review.summary; summary.disabled = done;
    form.append(el("h4", "Summary"), summary, el("p"));
    const submit = el("button", "Submit review");
    submit.type = "submit"; submit.id = "card-submit"; submit.hidden = done;
    form.append(submit);
    $("review-score").textContent = done ? scoreLine(review) : "";
  }

  function scoreLine(r) {
    return "Score " + r.score + (r.failed ? " (failed: an auto-fail criterion)" : "") +
      (r.response ? " · agent " + r.response : "");
  }

  async function submitCard(event) {
    event.preventDefault();
    const review = state.review;
    const answers = {};
    for (const input of $("card-form").querySelectorAll("input[type=radio]:checked")) answers[input.name] = input.value;
    const got = await send("POST", "/api/v1/quality/reviews/" + review.id + "/submit", { answers, summary: $("card-summary").value });
    state.review = await getJson("/api/v1/quality/reviews/" + review.id);
    drawCard(state.review);
    $("review-score").textContent = scoreLine({ ...state.review, score: got.score });
    if (review.calibration) go("/quality/calibration/" + encodeURIComponent(review.item_id));
  }

  async function addComment(event) {
    event.preventDefault();
    const review = state.review;
    const audio = state.isCall && state.reader ? state.reader.audio : null;
    await send("POST", "/api/v1/quality/items/" + encodeURIComponent(review.item_id) + "/comments", {
      text: $("comment-text").value, review_id: review.id,
      at_seconds: audio ? Math.round(audio.currentTime * 10) / 10 : null });
    $("comment-text").value = "";
    await showComments();
  }

  // -- scorecards -------------------------------------------------------------------
  async function scorecards() {
    show("scorecards");
    document.title = "Scorecards · quality";
    const cards = await getJson("/api/v1/quality/scorecards");
    $("card-list").replaceChildren(...cards.map((c) => {
      const li = el("li");
      li.append(el("strong", c.name + " v" + c.version + " "),
        el("span", c.sections.map((s) => s.title + ": " + s.criteria.map((k) => k.label + " ×" + k.weight + (k.auto_fail ? " (auto-fail)" : "")).join(", ")).join(" · "), "meta"));
      return li;
    }));
  }

  async function saveCard(event) {
    event.preventDefault();
    let sections;
    try { sections = JSON.parse($("card-json").value); } catch (err) { $("q-error").textContent = "The sections are not valid JSON: " + err.message; return; }
    await send("POST", "/api/v1/quality/scorecards", { name: $("card-name").value, sections });
    await scorecards();
  }

  // -- statistics -------------------------------------------------------------------
  async function stats() {
    show("stats");
    document.title = "Statistics · quality";
    const params = new URLSearchParams();
    if ($("stats-agent").value) params.set("agent", $("stats-agent").value);
    if ($("stats-team").value) params.set("team", $("stats-team").value);
    $("stats-csv").href = "/api/v1/quality/stats.csv?" + params;
    const body = await getJson("/api/v1/quality/stats?" + params);
    trendChart($("chart-trend"), body.weeks);
    criteriaChart($("chart-criteria"), body.criteria);
    const tbody = $("stats-agents").querySelector("tbody");
    tbody.replaceChildren(...body.agents.map((a) => {
      const tr = el("tr");
      for (const v of [a.agent, a.team, a.reviews, a.mean_score, a.planned, a.failures]) tr.append(el("td", String(v)));
      return tr;
    }));
  }

  // Weekly mean score (line, 0..100 on the left) over bars of reviews done against planned.
  function trendChart(box, weeks) {
    const W = 640, H = 220, L = 40, B = 30, T = 10;
    const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "score trend" });
    s.append(svg("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#5b6473" }));
    for (const v of [0, 50, 100]) {
      const y = H - B - (H - B - T) * v / 100;
      s.append(svg("text", { x: 4, y: y + 4 }, String(v)), svg("line", { x1: L, y1: y, x2: W - 10, y2: y, stroke: "#e8eef6" }));
    }
    const n = Math.max(weeks.length, 1), step = (W - L - 20) / n;
    const most = Math.max(1, ...weeks.map((w) => Math.max(w.planned, w.reviews)));
    const points = [];
    weeks.forEach((w, i) => {
      const x = L + step * i + step / 2;
      const bar = (count, dx, color, cls) => {
        const h = (H - B - T) * 0.5 * count / most;
        s.append(svg("rect", { x: x + dx, y: H - B - h, width: 10, height: h, fill: color, class: cls }));
      };
      bar(w.planned, -12, "#c9d6e8", "planned");
      bar(w.reviews, 2, "#457b9d", "done");
      s.append(svg("text", { x: x - 24, y: H - 10 }, w.week));
      if (w.mean_score !== null) {
        const y = H - B - (H - B - T) * w.mean_score / 100;
        points.push(`${x},${y}`);
        s.append(svg("circle", { cx: x, cy: y, r: 4, fill: "#e76f51", class: "score-point" }, undefined));
        s.append(svg("text", { x: x + 6, y: y - 6, class: "score-label" }, String(w.mean_score)));
      }
    });
    if (points.length > 1) s.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#e76f51", "stroke-width": 2 }));
    box.replaceChildren(s, el("p", "bars: reviews planned (light) and done (dark); line: mean score", "meta"));
  }

  function criteriaChart(box, criteria) {
    const W = 640, row = 24, L = 160;
    const s = svg("svg", { width: W, height: row * criteria.length + 10, role: "img", "aria-label": "failure rate per criterion" });
    criteria.forEach((c, i) => {
      const y = 5 + row * i;
      s.append(svg("text", { x: 4, y: y + 15 }, c.criterion));
      s.append(svg("rect", { x: L, y: y + 3, width: Math.max(1, (W - L - 80) * c.failure_rate), height: row - 8, fill: "#e76f51", class: "fail-bar" }));
      s.append(svg("text", { x: W - 70, y: y + 15 }, Math.round(100 * c.failure_rate) + "% of " + c.reviews));
    });
    box.replaceChildren(s);
  }

  // -- backfills: ask for one, then follow it by polling its address ----------------
  async function backfills(id) {
    show("backfills");
    state.poll += 1;  // a poll of the screen shown before stops
    document.title = (id ? "Backfill " + id : "Backfills") + " · quality";
    const policies = await getJson("/api/v1/quality/policies");
    const box = $("backfill-policies");
    box.replaceChildren(el("legend", "Policies (none ticked: every enabled one)"), ...policies.map((p) => {
      const label = el("label");
      const input = el("input");
      input.type = "checkbox"; input.name = "policy"; input.value = p.name;
      label.append(input, " " + p.name + (p.enabled ? "" : " (disabled)"));
      return label;
    }));
    $("backfill-one").hidden = !id;
    await listBackfills();
    if (id) await followBackfill(id, state.poll);
  }

  function day(iso) { return iso ? iso.slice(0, 10) : "…"; }
  function items(b) { return b.items_done + " of " + (b.items_total === null ? "?" : b.items_total); }

  async function listBackfills() {
    const list = await getJson("/api/v1/quality/backfills");
    $("backfill-table").querySelector("tbody").replaceChildren(...list.map(backfillRow));
    $("backfill-none").hidden = list.length > 0;
  }

  function backfillRow(b) {
    const tr = el("tr");
    tr.dataset.id = b.id;
    const td = el("td");
    const open = el("a", String(b.id));
    open.href = "/quality/backfills/" + b.id;
    open.addEventListener("click", (e) => { e.preventDefault(); go(open.getAttribute("href")); });
    td.append(open);
    tr.append(td);
    for (const v of [new Date(b.requested_at).toLocaleString(), b.requested_by, day(b.since) + " to " + day(b.until),
      b.all_enabled ? "every enabled" : b.policies.join(", "), b.status, items(b), String(b.queued)]) tr.append(el("td", v));
    return tr;
  }

  function drawBackfill(b) {
    $("backfill-title").textContent = "Backfill " + b.id + " · " + day(b.since) + " to " + day(b.until) +
      " · " + (b.all_enabled ? "every enabled policy" : b.policies.join(", "));
    const bar = $("backfill-progress");
    bar.max = Math.max(b.items_total || 0, b.items_done, 1);
    bar.value = b.status === "done" ? bar.max : b.items_done;
    const line = {
      queued: "Waiting for a worker",
      running: "Running: " + items(b) + " items read, " + b.queued + " queued for review",
      done: "Done: " + b.items_done + " items read, " + b.queued + " queued for review",
      failed: "Failed: " + (b.error || "no reason given"),
    }[b.status];
    const status = $("backfill-status");
    status.textContent = line;
    status.dataset.status = b.status;
    const detail = ["asked by " + b.requested_by + " " + new Date(b.requested_at).toLocaleString()];
    if (b.finished_at) detail.push("finished " + new Date(b.finished_at).toLocaleString());
    if (b.items_failed) detail.push(b.items_failed + " items could not be read (" + b.error + ")");
    $("backfill-detail").textContent = detail.join(" · ");
  }

  async function followBackfill(id, poll) {
    for (;;) {
      const b = await getJson("/api/v1/quality/backfills/" + id);
      if (poll !== state.poll) return;  // the user went elsewhere
      drawBackfill(b);
      const row = $("backfill-table").querySelector(`tr[data-id="${b.id}"]`);
      if (row) row.replaceWith(backfillRow(b));
      if (b.status === "done" || b.status === "failed") return listBackfills();
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (poll !== state.poll) return;
    }
  }

  async function startBackfill(event) {
    event.preventDefault();
    const policies = [...$("backfill-policies").querySelectorAll("input:checked")].map((i) => i.value);
    const got = await send("POST", "/api/v1/quality/backfills", {
      since: $("backfill-since").value || null, until: $("backfill-until").value || null, policies });
    go("/quality/backfills/" + got.id);
  }

  // -- calibration ------------------------------------------------------------------
  async function calibration(itemId) {
    show("calibration");
    state.calibrationItem = itemId;
    document.title = "Calibration · quality";
    await loadCards($("calibrate-card"));
    const table = $("spread");
    try {
      const body = await getJson("/api/v1/quality/calibration/" + encodeURIComponent(itemId));
      const head = el("tr");
      for (const h of ["criterion", ...body.reviewers, "spread"]) head.append(el("th", h));
      table.querySelector("thead").replaceChildren(head);
      const rows = body.criteria.map((c) => {
        const tr = el("tr");
        tr.append(el("td", c.label));
        for (const r of body.reviewers) tr.append(el("td", c.values[r] === null || c.values[r] === undefined ? "n/a" : String(c.values[r])));
        tr.append(el("td", c.spread === null ? "" : String(c.spread), c.spread >= 50 ? "q-wide spread" : "spread"));
        return tr;
      });
      const total = el("tr");
      total.append(el("td", "score"));
      for (const r of body.reviewers) total.append(el("td", String(body.scores[r])));
      total.append(el("td", String(body.score_spread), "spread"));
      table.querySelector("tbody").replaceChildren(...rows, total);
      table.hidden = false;
      $("spread-note").textContent = body.reviewers.length + " reviewers" + (body.mixed_versions ? "; careful: different scorecard versions" : "");
    } catch (err) {
      table.hidden = true;
      $("spread-note").textContent = err.status === 403 ? "Blind until you submit your own review of this item." : err.message;
    }
  }

  async function calibrate(event) {
    event.preventDefault();
    const review = await send("POST", "/api/v1/quality/reviews", {
      item_id: state.calibrationItem, scorecard_id: Number($("calibrate-card").value), calibration: true });
    go("/quality/reviews/" + review.id);
  }

  // -- the agent's own reviews ------------------------------------------------------
  async function agentReviews() {
    show("agent");
    document.title = "My reviews · commarchive";
    if (location.pathname !== "/agent/reviews") history.replaceState(null, "", "/agent/reviews");
    const reviews = await getJson("/api/v1/quality/reviews");
    $("agent-list").replaceChildren(...reviews.map((r) => {
      const li = el("li");
      li.dataset.id = r.id;
      const open = el("button", "Open");
      open.addEventListener("click", () => openAgentReview(r.id).catch(fail));
      li.append(el("strong", "Score " + r.score + " "), el("span", new Date(r.submitted_at).toLocaleString() + " · by " + r.reviewer + (r.response ? " · " + r.response : "") + " "), open);
      return li;
    }));
  }

  async function openAgentReview(id) {
    const r = await getJson("/api/v1/quality/reviews/" + id);
    state.agentReview = r;
    $("agent-review").hidden = false;
    $("agent-review-title").textContent = scoreLine(r);
    const labels = Object.fromEntries(r.scorecard.sections.flatMap((s) => s.criteria.map((c) => [c.id, c.label])));
    $("agent-answers").querySelector("tbody").replaceChildren(...Object.entries(r.answers).map(([k, v]) => {
      const tr = el("tr"); tr.append(el("td", labels[k] || k), el("td", v)); return tr;
    }));
    $("agent-summary").textContent = r.summary;
    $("agent-comments").replaceChildren(...r.comments.map((c) => el("li", (c.at_seconds !== null ? fmtTime(c.at_seconds) + " " : "") + c.author + ": " + c.text)));
  }

  async function respond(response) {
    const r = state.agentReview;
    await send("POST", "/api/v1/quality/reviews/" + r.id + "/response", { response, comment: $("agent-text").value });
    $("agent-text").value = "";
    await openAgentReview(r.id);
    await agentReviews();
    $("agent-review").hidden = false;
  }

  // -- session ----------------------------------------------------------------------
  function enter(user) {
    state.user = user;
    $("who").textContent = user.name + " (" + user.role + ")";
    if (user.role !== "quality" && user.role !== "agent") { fail(new Error("The quality workspace is for the quality and agent roles.")); show("login"); return; }
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const body = await (await api("/api/v1/session", { method: "POST", headers: { Authorization: "Bearer " + $("token").value.trim() } })).json();
        $("token").value = ""; $("login-error").textContent = "";
        enter(body);
      } catch (err) { $("login-error").textContent = err.message; }
    });
    $("logout").addEventListener("click", async () => {
      try { await api("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
      state.user = null; show("login");
    });
    for (const a of document.querySelectorAll("#q-nav a")) a.addEventListener("click", (e) => { e.preventDefault(); go(a.getAttribute("href")); });
    $("queue-filter").addEventListener("submit", (e) => { e.preventDefault(); queue().catch(fail); });
    $("sample-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const got = await send("POST", "/api/v1/quality/sample", { week: $("sample-week").value, per_agent: Number($("sample-n").value), seed: $("sample-seed").value });
        $("sample-result").textContent = Object.entries(got.picked).map(([a, ids]) => a + ": " + ids.length + " of " + got.candidates[a]).join(" · ") || "no calls to draw";
        await queue();
      } catch (err) { fail(err); }
    });
    $("card-form").addEventListener("submit", (e) => submitCard(e).catch(fail));
    $("comment-form").addEventListener("submit", (e) => addComment(e).catch(fail));
    $("card-new").addEventListener("submit", (e) => saveCard(e).catch(fail));
    $("stats-filter").addEventListener("submit", (e) => { e.preventDefault(); stats().catch(fail); });
    $("backfill-form").addEventListener("submit", (e) => startBackfill(e).catch(fail));
    $("calibrate-form").addEventListener("submit", (e) => calibrate(e).catch(fail));
    $("agent-ack").addEventListener("click", () => respond("acknowledged").catch(fail));
    $("agent-dispute").addEventListener("click", () => respond("disputed").catch(fail));
    window.addEventListener("popstate", () => { if (state.user) route(); });
    (async () => {
      try { enter(await getJson("/api/v1/session")); } catch (_) { show("login"); }
    })();
  });
})();
