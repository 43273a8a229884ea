"use strict";
// What every page of the web UI shares: the one way to call the API (the session cookie,
// the header that marks a request as the page's own, the error shape turned into an Error
// with the status) and building elements as text, never as HTML.
window.Commarchive = Object.freeze({
  $: (id) => document.getElementById(id),

  async request(path, opts = {}) {
    const headers = { "X-Commarchive-Request": "1", ...(opts.headers || {}) };
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      opts = { ...opts, method: opts.method || "POST", body: JSON.stringify(opts.json) };
    }
    const resp = await fetch(path, { credentials: "same-origin", ...opts, headers });
    if (!resp.ok) {
      let message = resp.status + " " + resp.statusText;
      try { const body = await resp.json(); message = body.error.code + ": " + body.error.message; } catch (_) { /* not JSON */ }
      const err = new Error(message); err.status = resp.status; throw err;
    }
    return resp;
  },

  el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  },
});
