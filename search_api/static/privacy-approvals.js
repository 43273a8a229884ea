"use strict";
// The privacy office's workspace: approvals (two-person control) and subject lookup.
// Signs in through the main page's session cookie; every change sends the header
// the server requires of cookie-authenticated requests. Nothing is inserted as HTML.
(function () {
  const SECTIONS = ["signin", "approvals", "approval", "subject"];
  const state = { user: null };

  const { $, el, request } = window.Commarchive;
  const api = async (path, opts) => (await request(path, opts)).json();


  function show(section) {
    for (const id of SECTIONS) $(id).hidden = id !== section;
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString("en-GB") : ""; }

  function go(path) {
    if (location.pathname !== path) history.pushState(null, "", path);
    route();
  }

  const LABELS = { erase: "Erasure", object: "Objection / consent withdrawal", unrestrict: "Lifting a restriction",
    lift_hold: "Lifting a legal hold", retire_key: "Retiring a key" };

  function subjectOf(a) {
    if (a.dry_run.subject) return a.dry_run.subject;
    if (a.params.identifiers) return a.params.identifiers.join(", ");
    if (a.params.hold_id) return "hold " + a.params.hold_id;
    if (a.params.purpose) return a.params.purpose + " key v" + a.params.version;
    return "";
  }

  // -- readable dry runs and results ----------------------------------------------------

  function itemTable(rows, columns) {
    const table = el("table", null, "wide");
    const head = el("tr");
    for (const [label] of columns) head.append(el("th", label));
    table.append(el("thead")); table.tHead.append(head);
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      for (const [, get] of columns) tr.append(el("td", get(row)));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  function block(box, title, rows, columns, none) {
    box.append(el("h4", title + " (" + rows.length + ")"));
    box.append(rows.length ? itemTable(rows, columns) : el("p", none, "meta"));
  }

  const ITEM = [["item", (r) => r.item_id], ["channel", (r) => r.channel], ["started", (r) => when(r.started_at)],
    ["found as", (r) => (r.match || []).join(", ")]];

  function render(box, action, d) {
    box.replaceChildren();
    if (action === "erase") {
      if (d.subject) box.append(el("p", "Subject: " + d.subject));
      block(box, "Erased" + (d.dry_run ? " (would be)" : ""), d.erased || [], ITEM, "No item.");
      block(box, "Kept", d.kept || [], [...ITEM, ["reason", (r) => r.reason], ["why", (r) => r.detail || ""]], "No item is kept.");
      block(box, "Recipients to notify (Art. 19)", d.recipients_to_notify || [], [["recipient", (r) => r.recipient]], "Nobody.");
      if (!d.dry_run && d.certificate) box.append(el("p", d.certificate + " · issued by " + d.issued_by + " · " + when(d.issued_at), "meta certificate"));
    } else if (action === "object") {
      box.append(el("p", "Subject: " + d.subject + " · purposes ended: " + (d.purposes || []).join(", ")));
      block(box, "Purposes dropped", d.dropped || [], [["item", (r) => r.item_id], ["purpose", (r) => r.purpose]], "None.");
      block(box, "Items purged (no purpose left)", (d.purged || []).map((i) => ({ item_id: i })), [["item", (r) => r.item_id]], "None.");
      block(box, "Kept", d.kept || [], [["item", (r) => r.item_id], ["reason", (r) => r.reason || ""]], "None.");
    } else if (action === "unrestrict") {
      box.append(el("p", "Subject: " + d.subject + (d.note ? " · note: " + d.note : "")));
      block(box, "Restriction lifted on", (d.lifted || []).map((i) => ({ item_id: i })), [["item", (r) => r.item_id]], "No restricted item.");
    } else {
      box.append(el("pre", JSON.stringify(d, null, 2)));
    }
  }

  // -- approvals -------------------------------------------------------------------------

  async function listApprovals() {
    show("approvals");
    const params = new URLSearchParams();
    if ($("status-filter").value) params.set("status", $("status-filter").value);
    const found = await api("/api/v1/approvals?" + params);
    const body = $("approval-list").tBodies[0];
    body.replaceChildren();
    for (const a of found) {
      const tr = el("tr", null, "link");
      tr.dataset.id = a.id;
      for (const v of [a.id, LABELS[a.action] || a.action, subjectOf(a), a.proposed_by, when(a.proposed_at), when(a.expires_at), a.status]) tr.append(el("td", String(v)));
      tr.addEventListener("click", () => go("/privacy/approvals/" + a.id));
      body.append(tr);
    }
    $("approvals-empty").hidden = found.length > 0;
  }

  async function openApproval(id) {
    show("approval");
    const a = await api("/api/v1/approvals/" + encodeURIComponent(id));
    $("approval-title").textContent = (LABELS[a.action] || a.action) + " #" + a.id + ": " + subjectOf(a);
    const meta = $("approval-meta");
    meta.replaceChildren();
    for (const [k, v] of [["status", a.status], ["proposed by", a.proposed_by + ", " + when(a.proposed_at)],
      ["expires", when(a.expires_at)], ["request (case)", a.case_id ?? "none"],
      ["decided by", a.decided_by ? a.decided_by + ", " + when(a.decided_at) + (a.note ? " (" + a.note + ")" : "") : ""]]) {
      if (v !== "") meta.append(el("dt", k), el("dd", String(v)));
    }
    $("dry-run-title").textContent = a.status === "pending" ? "What approving will do (dry run)" : "What was proposed (dry run)";
    render($("dry-run"), a.action, a.dry_run);
    const mine = a.proposed_by === state.user.name;
    const actions = $("approval-actions");
    actions.replaceChildren(); // buttons exist only for someone who may press them
    $("approval-own").hidden = !(mine && a.status === "pending");
    if (a.status === "pending") {
      if (!mine) {
        const approve = el("button", "Approve and run", "primary");
        approve.id = "approve";
        approve.addEventListener("click", () => decide(a.id, "approve"));
        actions.append(approve);
      }
      const reject = el("button", mine ? "Withdraw" : "Reject");
      reject.id = "reject";
      reject.addEventListener("click", () => decide(a.id, "reject"));
      actions.append(reject);
    }
    $("result-box").hidden = !a.result && !a.drift;
    if (a.result) {
      $("result-title").textContent = a.result.error ? "Failed" : (a.action === "erase" ? "Erasure certificate" : "Result");
      if (a.result.error) $("result").replaceChildren(el("p", a.result.error.code + ": " + a.result.error.message, "error"));
      else render($("result"), a.action, a.result);
      if (a.drift) $("result").append(el("p", "Changed since the proposal: " + JSON.stringify(a.drift), "note drift"));
      $("result-box").scrollIntoView();
    }
  }

  async function decide(id, verb) {
    $("page-error").textContent = "";
    try {
      await api("/api/v1/approvals/" + id + "/" + verb, { method: "POST", json: {} });
    } catch (err) {
      $("page-error").textContent = err.message;
    }
    await openApproval(id);
  }

  // -- subjects ----------------------------------------------------------------------------

  async function openSubject(identifier) {
    show("subject");
    $("subject-found").hidden = true;
    $("subject-message").textContent = "";
    if (!identifier) return;
    $("identifier").value = identifier;
    const found = await api("/api/v1/subjects/" + encodeURIComponent(identifier));
    $("subject-title").textContent = found.subject + " (" + found.kind + ")";
    const body = $("subject-items").tBodies[0];
    body.replaceChildren();
    for (const i of found.items) {
      const tr = el("tr");
      for (const v of [i.item_id, i.channel, when(i.started_at), i.match.join(", "), i.purposes.join(", "), i.restricted ? "yes" : "", i.held ? "yes" : ""]) tr.append(el("td", v));
      body.append(tr);
    }
    $("subject-found").hidden = false;
  }

  function currentIdentifier() { return decodeURIComponent(location.pathname.split("/")[3] || ""); }

  function caseId() { const v = $("case-id").value; return v ? Number(v) : null; }

  async function propose(path, body) {
    $("page-error").textContent = "";
    try {
      const answer = await api("/api/v1/subjects/" + encodeURIComponent(currentIdentifier()) + path, { method: "POST", json: body });
      if (answer.approval_id) go("/privacy/approvals/" + answer.approval_id);
      else { $("subject-message").textContent = "Done."; await openSubject(currentIdentifier()); }
    } catch (err) {
      $("page-error").textContent = err.message;
    }
  }

  // -- routing -----------------------------------------------------------------------------

  async function route() {
    $("page-error").textContent = "";
    const path = location.pathname;
    try {
      let m;
      if ((m = path.match(/^\/privacy\/approvals\/(\d+)$/))) await openApproval(m[1]);
      else if ((m = path.match(/^\/privacy\/subjects(?:\/([^/]+))?$/))) await openSubject(m[1] ? decodeURIComponent(m[1]) : "");
      else await listApprovals();
    } catch (err) {
      $("page-error").textContent = err.message;
      if (err.status === 401) show("signin");
    }
  }

  async function start() {
    try {
      state.user = await api("/api/v1/session");
    } catch (_) {
      show("signin");
      return;
    }
    $("who").textContent = state.user.name + " (" + state.user.role + ")";
    $("logout").hidden = false;
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["nav-approvals", "nav-subjects"]) {
      $(id).addEventListener("click", (e) => { e.preventDefault(); go($(id).getAttribute("href")); });
    }
    $("status-filter").addEventListener("change", listApprovals);
    $("subject-form").addEventListener("submit", (e) => {
      e.preventDefault(); go("/privacy/subjects/" + encodeURIComponent($("identifier").value.trim()));
    });
    $("propose-erase").addEventListener("click", () => propose("/erase", { case_id: caseId() }));
    $("propose-object").addEventListener("click", () => propose("/object", { case_id: caseId() }));
    $("restrict").addEventListener("click", () => propose("/restrict", { reason: $("restrict-reason").value, request_id: caseId() }));
    $("propose-unrestrict").addEventListener("click", () => propose("/unrestrict", { note: $("unrestrict-note").value, case_id: caseId() }));
    $("logout").addEventListener("click", async () => {
      try { await api("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
      location.href = "/";
    });
    window.addEventListener("popstate", route);
    start();
  });
})();
