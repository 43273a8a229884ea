"use strict";
// commarchive privacy office: request cases from intake to closing. Screens by URL:
// /privacy (dashboard), /privacy/cases/new (intake), /privacy/cases/ID (one case).
// Same sign-in as the reviewers' page (an HttpOnly session cookie, never the token in
// page storage); every request carries the anti-forgery header. Nothing from the
// server is inserted as HTML: text only.
(function () {
  const state = { user: null, caseId: null, exportUrl: null };
  const SECTIONS = ["login", "dashboard", "intake", "case"];

  const { $, el, request: api } = window.Commarchive;
  const post = async (path, json) => (await api(path, { json })).json();

  const day = (iso) => (iso ? iso.slice(0, 10) : "");
  const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

  function show(section) {
    for (const id of SECTIONS) $(id).hidden = id !== section;
    $("logout").hidden = section === "login";
  }

  function go(path) {
    if (location.pathname !== path) history.pushState(null, "", path);
    route();
  }

  function route() {
    const m = location.pathname.match(/^\/privacy\/cases\/(\d+)$/);
    if (m) { openCase(Number(m[1])); return; }
    if (location.pathname === "/privacy/cases/new") { show("intake"); return; }
    dashboard();
  }

  // -- dashboard -------------------------------------------------------------------------

  async function dashboard() {
    show("dashboard");
    const [cases, digest] = await Promise.all([
      api("/api/v1/cases").then((r) => r.json()),
      api("/api/v1/cases/digest").then((r) => r.json()),
    ]);
    const box = $("digest");
    box.replaceChildren(el("strong", digest.open + " open, " + digest.overdue.length +
      " overdue, " + digest.due_soon.length + " due within " + digest.days + " days"));
    const list = el("ul");
    for (const c of digest.overdue) list.append(el("li", "Overdue: case " + c.id + " (" + c.kind + "), due " + day(c.due_at), "overdue"));
    for (const c of digest.due_soon) list.append(el("li", "Due " + day(c.due_at) + ": case " + c.id + " (" + c.kind + ")"));
    box.append(list);
    const body = $("cases").tBodies[0];
    body.replaceChildren();
    for (const c of cases) {
      const tr = el("tr");
      tr.dataset.id = c.id;
      if (c.overdue) tr.className = "overdue";
      const link = el("a", "#" + c.id);
      link.href = "/privacy/cases/" + c.id;
      const first = el("td"); first.append(link);
      tr.append(first, el("td", c.kind), el("td", c.identifiers.join(", ")),
        el("td", day(c.received_at)),
        el("td", day(c.due_at) + (c.overdue ? " (overdue)" : c.extended ? " (extended)" : "")),
        el("td", c.stage));
      body.append(tr);
    }
    $("no-cases").hidden = cases.length > 0;
  }

  // -- intake ------------------------------------------------------------------------------

  async function intake(event) {
    event.preventDefault();
    const received = $("received").value;
    try {
      const made = await post("/api/v1/cases", {
        kind: $("kind").value, channel: $("channel").value, requester: $("requester").value,
        identifiers: $("identifiers").value.split("\n").map((s) => s.trim()).filter(Boolean),
        received_at: received ? received + "T09:00:00Z" : null,
        note: $("intake-note").value || null,
      });
      $("intake-form").reset();
      $("intake-error").textContent = "";
      go("/privacy/cases/" + made.id);
    } catch (err) { $("intake-error").textContent = err.message; }
  }

  // -- one case ------------------------------------------------------------------------------

  async function openCase(id) {
    state.caseId = id;
    show("case");
    $("case-error").textContent = "";
    try { render(await (await api("/api/v1/cases/" + id)).json()); }
    catch (err) { $("case-error").textContent = err.message; }
  }

  async function step(path, json) {
    $("case-error").textContent = "";
    try { render(await post("/api/v1/cases/" + state.caseId + path, json)); return true; }
    catch (err) { $("case-error").textContent = err.message; return false; }
  }

  function partyText(p) { return (p.name ? p.name + " <" + p.address + ">" : p.address) + " (" + p.side + ")"; }

  function render(c) {
    const open = c.status === "open";
    $("case-title").textContent = "Case " + c.id + ": " + c.kind + " request" + (c.expired_at ? " (details removed)" : " from " + c.requester);
    const meta = $("case-meta");
    meta.replaceChildren();
    for (const [k, v] of [["identifiers", c.expired_at ? "removed " + day(c.expired_at) : c.identifiers.join(", ")], ["received", day(c.received_at) + " by " + c.channel],
      ["opened by", c.opened_by], ["status", c.status + (c.outcome ? " (" + c.outcome + ")" : "")],
      ["next step", c.stage], ["note", c.note || ""]]) meta.append(el("dt", k), el("dd", v));

    const deadline = $("deadline");
    deadline.textContent = "Due " + day(c.due_at) + (c.overdue ? ": overdue" : open ? " (" + c.days_left + " days left)" : "");
    deadline.className = c.overdue ? "overdue" : "";
    if (c.extension) deadline.textContent += "; extended from " + day(c.original_due_at) + " by " + c.extension.by + ": " + c.extension.reason;
    $("extend-form").hidden = !open || Boolean(c.extension);

    $("verified").textContent = c.verification ? "Verified by " + c.verification.by + " on " + when(c.verification.at) +
      " (" + c.verification.method + ")" + (c.verification.note ? ": " + c.verification.note : "") : "Not verified yet: nothing is looked up before.";
    $("verify-form").hidden = !open || Boolean(c.verification);

    $("lookup").hidden = !open || !c.verification;
    const pending = c.items.filter((i) => !i.decision).length;
    $("review-summary").textContent = !c.looked_up_at ? ""
      : c.expired_at ? c.items_reviewed + " items found (looked up " + when(c.looked_up_at) + "); the list was removed with the case's details"
      : c.items.length + " items found (looked up " + when(c.looked_up_at) + "); " + pending + " awaiting a decision";
    const body = $("review").tBodies[0];
    body.replaceChildren();
    for (const item of c.items) body.append(reviewRow(item, open));
    $("review").hidden = c.items.length === 0;
    $("export").disabled = !open || !c.looked_up_at || pending > 0;

    const actions = $("actions");
    actions.replaceChildren();
    for (const e of c.events.filter((e) => e.step === "action")) {
      const d = Object.entries(e.detail).filter(([k]) => k !== "case_id").map(([k, v]) => k + " " + v).join(", ");
      const li = el("li", when(e.at) + " " + e.action + " by " + e.actor + (d ? " (" + d + ")" : ""));
      if (e.detail.approval_id) {  // run on a second officer's approval: its outcome is there
        const link = el("a", "certificate and approval");
        link.href = "/privacy/approvals/" + encodeURIComponent(e.detail.approval_id);
        li.append(" ", link);
      }
      actions.append(li);
    }
    if (!actions.children.length) actions.append(el("li", "none yet", "meta"));

    $("replied").textContent = c.reply ? "Reply sent " + when(c.reply.at) + " by " + c.reply.by + (c.reply.text ? ": " + c.reply.text : "") : "";
    $("reply-form").hidden = !open || Boolean(c.reply);
    $("close-form").hidden = !open;
    $("closed").textContent = open ? "" : "Closed " + when(c.closed_at) + " by " + c.closed_by + " as " + c.outcome + (c.close_note ? ": " + c.close_note : "");
    if (c.expired_at) {  // past its retention: only the facts of the request are left
      $("closed").textContent += ". Identifiers, notes and the " + c.items_reviewed + " reviewed items were removed " + when(c.expired_at) + " when the case's retention period ended.";
    }

    const timeline = $("timeline");
    timeline.replaceChildren();
    for (const e of c.events) timeline.append(el("li", when(e.at) + " · " + e.step.replace("_", " ") + (e.action ? " " + e.action : "") + " · " + e.actor + " · audit #" + e.audit_seq));
  }

  function reviewRow(item, open) {
    const tr = el("tr");
    tr.dataset.id = item.item_id;
    if (item.decision) tr.className = "decided " + item.decision;
    const what = el("td");
    what.append(el("div", item.gone ? "erased since the lookup" : item.channel + ", " + when(item.started_at)),
      el("div", item.match.join(", ") + " · " + item.item_id, "meta"));
    const link = el("a", "open");
    link.href = "/items/" + item.item_id;
    link.target = "_blank";
    what.append(link);
    const parties = el("td");
    for (const p of item.parties) parties.append(el("div", partyText(p)));
    const decided = el("td", item.decision ? item.decision + (item.reason ? ": " + item.reason : "") +
      (item.redact && item.redact.length ? " [redact " + item.redact.join(", ") + "]" : "") : "not reviewed");
    const form = el("td");
    if (open && !item.gone) {
      const select = el("select", null, "decision");
      for (const d of ["include", "exclude", "redact"]) { const o = el("option", d); o.value = d; select.append(o); }
      if (item.decision) select.value = item.decision;
      const reason = el("input", null, "reason"); reason.placeholder = "reason";
      const redact = el("input", null, "redact"); redact.placeholder = "third party to redact (name, address; comma-separated)";
      const save = el("button", "Save", "save"); save.type = "button";
      save.addEventListener("click", () => step("/items/" + encodeURIComponent(item.item_id) + "/review", {
        decision: select.value, reason: reason.value || null,
        redact: redact.value.split(",").map((s) => s.trim()).filter(Boolean),
      }));
      form.append(select, reason, redact, save);
    }
    tr.append(what, parties, decided, form);
    return tr;
  }

  async function download() {
    $("case-error").textContent = "";
    try {
      const blob = await (await api("/api/v1/cases/" + state.caseId + "/export")).blob();
      if (state.exportUrl) URL.revokeObjectURL(state.exportUrl);
      state.exportUrl = URL.createObjectURL(blob);
      const a = $("export-link");
      a.href = state.exportUrl;
      a.download = "case-" + state.caseId + "-export.zip";
      a.click();
      openCase(state.caseId);  // the export is now an action taken
    } catch (err) { $("case-error").textContent = err.message; }
  }

  function onSubmit(id, handler) {
    $(id).addEventListener("submit", async (event) => { event.preventDefault(); if (await handler()) $(id).reset(); });
  }

  // -- sign-in ---------------------------------------------------------------------------

  function enter(user) {
    state.user = user;
    $("who").textContent = user.name + " (" + user.role + ")";
    if (user.role !== "privacy") {
      show("login");
      $("logout").hidden = false;
      $("login-error").textContent = "This workspace is for the privacy office (role privacy).";
      return;
    }
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const token = $("token").value;
        $("token").value = "";
        enter(await (await api("/api/v1/session", { method: "POST", headers: { Authorization: "Bearer " + token } })).json());
      } catch (err) { $("login-error").textContent = err.message; }
    });
    $("logout").addEventListener("click", async () => {
      try { await api("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
      state.user = null; $("who").textContent = ""; show("login");
    });
    $("intake-form").addEventListener("submit", intake);
    onSubmit("verify-form", () => step("/verify", { method: $("verify-method").value, note: $("verify-note").value || null }));
    onSubmit("extend-form", () => step("/extend", { reason: $("extend-reason").value }));
    onSubmit("reply-form", () => step("/reply", { text: $("reply-text").value }));
    onSubmit("close-form", () => step("/close", { outcome: $("close-outcome").value, note: $("close-note").value || null }));
    $("lookup").addEventListener("click", () => step("/lookup", {}));
    $("export").addEventListener("click", download);
    document.body.addEventListener("click", (event) => {
      const a = event.target.closest("a");
      if (a && a.target !== "_blank" && !a.download && (a.pathname === "/privacy" || a.pathname.startsWith("/privacy/cases"))) { event.preventDefault(); go(a.pathname); }
    });
    window.addEventListener("popstate", () => { if (state.user) route(); });
    api("/api/v1/session").then((r) => r.json()).then(enter).catch(() => show("login"));
  });
})();
