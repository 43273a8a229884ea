"use strict";
// Legal's workspace: holds with their scope previewed before placing, disclosures
// against a hold, evidence bundles, and lifting a hold under two-person control.
// Signs in through the main page's session cookie; nothing is inserted as HTML.
(function () {
  const SECTIONS = ["signin", "holds", "new-hold", "hold"];
  const state = { user: null, previewed: null, bundleUrl: null };

  const { $, el, request: call } = window.Commarchive;
  async function api(path, opts) { return (await call(path, opts)).json(); }

  function show(section) { for (const id of SECTIONS) $(id).hidden = id !== section; }
  function when(iso) { return iso ? new Date(iso).toLocaleString("en-GB") : ""; }
  function go(path) { if (location.pathname !== path) history.pushState(null, "", path); route(); }
  function row(values) { const tr = el("tr"); for (const v of values) tr.append(el("td", String(v))); return tr; }

  // -- holds ---------------------------------------------------------------------------------

  async function listHolds() {
    show("holds");
    const found = await api("/api/v1/holds?all=true");
    const body = $("hold-list").tBodies[0];
    body.replaceChildren();
    for (const h of found) {
      const tr = row([h.id, h.scope, h.target, h.case_ref, h.item_ids.length, when(h.created_at), h.active ? "yes" : "lifted"]);
      tr.className = "link"; tr.dataset.id = h.id;
      tr.addEventListener("click", () => go("/legal/holds/" + h.id));
      body.append(tr);
    }
    $("holds-empty").hidden = found.length > 0;
  }

  function holdBody() {
    const scope = $("hold-scope").value, target = $("hold-target").value.trim();
    if (scope === "item_ids") return { item_ids: target.split(/[\s,]+/).filter(Boolean) };
    return { [scope]: target };
  }

  async function preview() {
    $("page-error").textContent = "";
    const body = holdBody();
    try {
      const found = await api("/api/v1/holds/preview", { method: "POST", json: body });
      $("preview-title").textContent = "This hold would cover " + found.count + (found.count === 1 ? " item" : " items");
      const tbody = $("preview-items").tBodies[0];
      tbody.replaceChildren();
      for (const i of found.items) tbody.append(row([i.item_id, i.channel, when(i.started_at), i.held ? "yes" : ""]));
      $("preview-box").hidden = false;
      state.previewed = JSON.stringify(body);
      $("place").disabled = false;
    } catch (err) {
      $("page-error").textContent = err.message;
    }
  }

  async function place() {
    $("page-error").textContent = "";
    const body = holdBody();
    if (JSON.stringify(body) !== state.previewed) { $("page-error").textContent = "Preview the hold again: its target changed."; return; }
    try {
      const hold = await api("/api/v1/holds", { method: "POST", json: { ...body, reason: $("hold-reason").value, case_ref: $("hold-case").value } });
      go("/legal/holds/" + hold.id);
    } catch (err) {
      $("page-error").textContent = err.message;
    }
  }

  function newHold() {
    show("new-hold");
    $("preview-box").hidden = true;
    $("place").disabled = true;
    state.previewed = null;
  }

  // -- one hold ------------------------------------------------------------------------------

  async function openHold(id) {
    show("hold");
    $("bundle-result").hidden = true;
    const h = await api("/api/v1/holds/" + id);
    $("hold-title").textContent = "Hold #" + h.id + ": " + h.case_ref;
    const meta = $("hold-meta");
    meta.replaceChildren();
    for (const [k, v] of [["scope", h.scope + ": " + h.target], ["reason", h.reason], ["placed", h.created_by + ", " + when(h.created_at)],
      ["status", h.active ? "active" : "lifted by " + h.lifted_by + ", " + when(h.lifted_at) + " (" + h.lift_note + ")"]]) {
      meta.append(el("dt", k), el("dd", v));
    }
    const items = $("hold-items").tBodies[0];
    items.replaceChildren();
    for (const itemId of h.item_ids) {
      const tr = el("tr");
      const box = el("input"); box.type = "checkbox"; box.checked = true; box.value = itemId; box.className = "bundle-pick";
      const td = el("td"); td.append(box);
      tr.append(td, el("td", itemId));
      items.append(tr);
    }
    const disclosures = await api("/api/v1/holds/" + id + "/disclosures");
    const dbody = $("disclosures").tBodies[0];
    dbody.replaceChildren();
    for (const d of disclosures) dbody.append(row([d.recipient, d.legal_basis, d.reference || "", when(d.disclosed_at), d.item_ids.length, d.recorded_by || ""]));
    $("lift-form").hidden = !h.active;
    await showLiftProposals(Number(id));
  }

  async function showLiftProposals(holdId) {
    const box = $("lift-proposals");
    box.replaceChildren();
    const found = (await api("/api/v1/approvals?action=lift_hold")).filter((a) => a.params.hold_id === holdId);
    for (const a of found) {
      const div = el("div", null, "note proposal");
      div.dataset.id = a.id;
      div.append(el("p", "Lifting #" + a.id + " proposed by " + a.proposed_by + ", " + when(a.proposed_at) + ": " + a.status
        + (a.decided_by ? " (" + a.decided_by + ")" : "")));
      div.append(el("p", "Note: " + a.params.note + ". Releases " + a.dry_run.released.length + " item(s)"
        + (a.dry_run.still_held.length ? "; " + a.dry_run.still_held.length + " stay under other holds" : "") + "."));
      if (a.status === "pending") {
        const actions = el("div", null, "actions");
        if (a.proposed_by !== state.user.name) {
          const approve = el("button", "Approve and lift", "primary");
          approve.className = "primary approve";
          approve.addEventListener("click", () => decide(a.id, "approve", holdId));
          actions.append(approve);
        } else {
          div.append(el("p", "You proposed this: another legal user must approve it.", "meta"));
        }
        const reject = el("button", a.proposed_by === state.user.name ? "Withdraw" : "Reject");
        reject.addEventListener("click", () => decide(a.id, "reject", holdId));
        actions.append(reject);
        div.append(actions);
      }
      box.append(div);
    }
  }

  async function decide(approvalId, verb, holdId) {
    $("page-error").textContent = "";
    try { await api("/api/v1/approvals/" + approvalId + "/" + verb, { method: "POST", json: {} }); } catch (err) { $("page-error").textContent = err.message; }
    await openHold(holdId);
  }

  function holdInPath() { const m = location.pathname.match(/^\/legal\/holds\/(\d+)$/); return m ? Number(m[1]) : null; }

  async function bundle() {
    $("page-error").textContent = "";
    const ids = [...document.querySelectorAll(".bundle-pick")].filter((b) => b.checked).map((b) => b.value);
    try {
      const resp = await call("/api/v1/evidence", { method: "POST", json: { hold_id: holdInPath(), item_ids: ids, note: $("bundle-note").value || null } });
      const blob = await resp.blob();
      if (state.bundleUrl) URL.revokeObjectURL(state.bundleUrl);
      state.bundleUrl = URL.createObjectURL(blob);
      const name = (resp.headers.get("Content-Disposition") || "").replace(/.*filename="([^"]+)".*/, "$1") || "evidence.zip";
      const out = $("bundle-result");
      out.replaceChildren(el("span", ids.length + " item(s) · manifest SHA-256 "), el("code", resp.headers.get("X-Manifest-SHA256")), el("span", " · "));
      const link = el("a", "Download " + name); link.id = "bundle-link"; link.href = state.bundleUrl; link.download = name;
      out.append(link);
      out.hidden = false;
      link.click();
    } catch (err) {
      $("page-error").textContent = err.message;
    }
  }

  async function disclose() {
    $("page-error").textContent = "";
    try {
      await api("/api/v1/holds/" + holdInPath() + "/disclosures", { method: "POST", json: {
        recipient: $("disclosure-recipient").value, legal_basis: $("disclosure-basis").value,
        reference: $("disclosure-reference").value || null } });
      for (const id of ["disclosure-recipient", "disclosure-basis", "disclosure-reference"]) $(id).value = "";
    } catch (err) {
      $("page-error").textContent = err.message;
    }
    await openHold(holdInPath());
  }

  async function proposeLift() {
    $("page-error").textContent = "";
    try {
      await api("/api/v1/holds/" + holdInPath() + "/lift", { method: "POST", json: { note: $("lift-note").value } });
      $("lift-note").value = "";
    } catch (err) {
      $("page-error").textContent = err.message;
    }
    await openHold(holdInPath());
  }

  // -- routing -------------------------------------------------------------------------------

  async function route() {
    $("page-error").textContent = "";
    try {
      const id = holdInPath();
      if (id !== null) await openHold(id);
      else if (location.pathname === "/legal/holds/new") newHold();
      else await listHolds();
    } catch (err) {
      $("page-error").textContent = err.message;
      if (err.status === 401) show("signin");
    }
  }

  async function start() {
    try { state.user = await api("/api/v1/session"); } catch (_) { show("signin"); return; }
    $("who").textContent = state.user.name + " (" + state.user.role + ")";
    $("logout").hidden = false;
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["nav-holds", "nav-new", "back-holds"]) {
      $(id).addEventListener("click", (e) => { e.preventDefault(); go($(id).getAttribute("href")); });
    }
    $("hold-scope").addEventListener("change", () => { $("place").disabled = true; });
    $("hold-target").addEventListener("input", () => { $("place").disabled = true; });
    $("preview").addEventListener("click", preview);
    $("hold-form").addEventListener("submit", (e) => { e.preventDefault(); place(); });
    $("bundle").addEventListener("click", bundle);
    $("disclosure-form").addEventListener("submit", (e) => { e.preventDefault(); disclose(); });
    $("lift-form").addEventListener("submit", (e) => { e.preventDefault(); proposeLift(); });
    $("logout").addEventListener("click", async () => {
      try { await call("/api/v1/session", { method: "DELETE" }); } catch (_) { /* ended anyway */ }
      location.href = "/";
    });
    window.addEventListener("popstate", route);
    start();
  });
})();
