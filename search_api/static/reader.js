"use strict";
// commarchive item reader: renders one archived e-mail or call into any element that
// carries data-item-id, so every page that shows an item (the search page, a review
// page) shows it the same way:
//
//   const reader = CommarchiveReader.render(element, { startAt: 12.5 });
//   reader.seek(30); reader.setMarkers([{ at: 83, label: "comment" }]); reader.destroy();
//   reader.setHighlights([{ start: 3.0, end: 4.6, label: "policy hit" }]); reader.audio
//
// Markers (comments at a moment) sit on the waveform and seek there when clicked;
// highlights (policy hits) shade their stretch of the waveform and mark the transcript
// lines they fall in. Both may be set again at any time (a new comment).
//
// E-mail: a header card (from, to, cc, date, subject), the text body, the HTML body as
// the server sanitised it (text, structure and links only: the one place item content
// is inserted as HTML), the attachments with type and size, downloadable by roles that
// may. Call: the audio streams from its URL (HTTP Range requests), a waveform of both
// channels, the transcript beside it with the current word highlighted while playing,
// click a word to seek, playback speed, keyboard shortcuts. Everything else is text.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
  const SEEK_S = 5;
  const SEEK_LONG_S = 15;
  const WAVE_POINTS = 600;
  let active = null; // the call reader the keyboard controls

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  async function api(path) {
    const resp = await fetch(path, { credentials: "same-origin", headers: { "X-Commarchive-Request": "1" } });
    if (!resp.ok) {
      let message = resp.status + " " + resp.statusText;
      try { const body = await resp.json(); message = body.error.code + ": " + body.error.message; } catch (_) { /* not JSON */ }
      const err = new Error(message); err.status = resp.status; throw err;
    }
    return resp;
  }

  function clock(seconds) {
    if (!Number.isFinite(seconds)) return "0:00";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60));
    const ss = String(s % 60).padStart(2, "0");
    return h ? h + ":" + mm.padStart(2, "0") + ":" + ss : mm + ":" + ss;
  }

  // Sizes and dates in the reader's own locale (the browser's), never a fixed one.
  function size(bytes) {
    const units = [["gigabyte", 1e9], ["megabyte", 1e6], ["kilobyte", 1e3]];
    for (const [unit, n] of units) {
      if (bytes >= n) return new Intl.NumberFormat(undefined, { style: "unit", unit, maximumFractionDigits: 1 }).format(bytes / n);
    }
    return new Intl.NumberFormat(undefined, { style: "unit", unit: "byte" }).format(bytes);
  }

  function when(header) {
    const d = new Date(header);
    if (Number.isNaN(d.getTime())) return header;
    return d.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
  }

  function mailbox(box) {
    return box.name ? box.name + " <" + box.address + ">" : box.address;
  }

  // -- e-mail ---------------------------------------------------------------------------

  async function renderEmail(root, id, base) {
    let msg;
    try {
      msg = await (await api(base + "/message")).json();
    } catch (err) {
      if (err.status !== 404) throw err;
      // Not parsed at ingest: the source as text (never rendered).
      const raw = await (await api(base + "/content")).text();
      root.append(el("p", err.message.replace(/^[a-z_]+: /, ""), "note"), el("pre", raw, "mail-text"));
      return {};
    }
    const card = el("div", null, "mail-card");
    if (!msg.anonymised) card.append(el("h3", msg.subject || "(no subject)", "mail-subject"));
    const headers = el("dl", null, "mail-headers");
    const rows = [["From", msg.sender], ["To", msg.to], ["Cc", msg.cc], ["Reply-To", msg.reply_to]];
    for (const [label, boxes] of rows) {
      if (!boxes.length) continue;
      headers.append(el("dt", label), el("dd", boxes.map(mailbox).join(", "), "mail-" + label.toLowerCase()));
    }
    if (msg.date) {
      const dd = el("dd", when(msg.date), "mail-date");
      dd.title = msg.date;
      headers.append(el("dt", "Date"), dd);
    }
    card.append(headers);
    if (msg.anonymised) card.append(el("p", "Anonymised view: the text with personal data redacted; headers, formatting and attachments withheld.", "note"));
    root.append(card);

    const body = el("div", null, "mail-body");
    const text = msg.text !== null ? el("pre", msg.text, "mail-text") : null;
    let html = null;
    if (msg.html !== null) {
      html = el("div", null, "mail-html");
      html.innerHTML = msg.html; // sanitised by the server: text, structure and links only
    }
    if (html && text) {
      const tabs = el("div", null, "mail-tabs");
      const asHtml = el("button", "Formatted", "tab");
      const asText = el("button", "Plain text", "tab");
      asHtml.type = asText.type = "button";
      const pick = (showHtml) => {
        html.hidden = !showHtml; text.hidden = showHtml;
        asHtml.classList.toggle("selected", showHtml); asText.classList.toggle("selected", !showHtml);
      };
      asHtml.addEventListener("click", () => pick(true));
      asText.addEventListener("click", () => pick(false));
      tabs.append(asHtml, asText);
      body.append(tabs);
      pick(true);
    }
    if (html) body.append(html);
    if (text) body.append(text);
    root.append(body);

    if (msg.attachments.length) {
      root.append(el("h4", "Attachments"));
      const list = el("ul", null, "mail-attachments");
      for (const a of msg.attachments) {
        const li = el("li");
        const link = el("a", a.filename || "attachment " + (a.index + 1));
        link.href = base + "/attachments/" + a.index;
        link.setAttribute("download", a.filename || "");
        li.append(link, el("span", " " + a.content_type + " · " + size(a.size), "meta"));
        list.append(li);
      }
      root.append(list);
    }
    return {};
  }

  // -- call -----------------------------------------------------------------------------

  function transcriptLines(transcript) {
    // Each utterance with its words (by time), so a word can be highlighted and clicked.
    const lines = [];
    for (const sp of transcript.speakers || []) {
      const words = (sp.words || []).slice().sort((a, b) => a.start - b.start);
      for (const u of sp.utterances || []) {
        const own = words.filter((w) => w.start >= u.start - 0.01 && w.end <= u.end + 0.01);
        lines.push({ speaker: sp.label, channel: sp.channel, start: u.start, end: u.end, text: u.text, words: own });
      }
    }
    return lines.sort((a, b) => a.start - b.start);
  }

  function drawWave(box, peaks, labels) {
    const width = WAVE_POINTS;
    const row = 48;
    const graph = svg("svg", { viewBox: "0 0 " + width + " " + row * peaks.channels.length, preserveAspectRatio: "none", class: "waveform", role: "img" });
    graph.append(svg("title"));
    graph.firstChild.textContent = "Waveform of both channels; click to jump there";
    peaks.channels.forEach((values, ch) => {
      const mid = row * ch + row / 2;
      let d = "";
      const step = width / values.length;
      values.forEach((v, i) => {
        const h = Math.max(0.5, v * (row / 2 - 3));
        const x = (i + 0.5) * step;
        d += "M" + x.toFixed(1) + " " + (mid - h).toFixed(1) + "V" + (mid + h).toFixed(1);
      });
      graph.append(svg("path", { d, class: "wave wave-" + ch, "stroke-width": Math.max(0.6, step * 0.7) }));
      const label = svg("text", { x: 4, y: row * ch + 12, class: "wave-label" });
      label.textContent = labels[ch] || "channel " + ch;
      graph.append(label);
    });
    const played = svg("rect", { x: 0, y: 0, width: 0, height: row * peaks.channels.length, class: "played" });
    const head = svg("line", { x1: 0, x2: 0, y1: 0, y2: row * peaks.channels.length, class: "playhead" });
    const spans = svg("g", { class: "highlights" });
    const markers = svg("g", { class: "markers" });
    graph.append(spans, played, markers, head);
    box.append(graph);
    return { graph, played, head, spans, markers, width, height: row * peaks.channels.length };
  }

  async function renderCall(root, id, base, opts) {
    const item = opts.item || await (await api(base)).json();
    const layout = el("div", null, "reader-call");
    const media = el("div", null, "reader-media");
    const side = el("div", null, "reader-transcript");
    layout.append(media, side);
    root.append(layout);

    media.append(el("h3", "Recording"));
    const audio = el("audio", null, "reader-audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = base + "/audio"; // streamed with Range requests, not downloaded whole
    media.append(audio);
    const waveBox = el("div", null, "waveform-box");
    media.append(waveBox);

    const controls = el("div", null, "reader-controls");
    const play = el("button", "Play", "reader-play");
    play.type = "button";
    const speedLabel = el("label", "Speed ");
    const speed = el("select", null, "reader-speed");
    for (const s of SPEEDS) {
      const o = el("option", s + "×");
      o.value = String(s);
      if (s === 1) o.selected = true;
      speed.append(o);
    }
    speedLabel.append(speed);
    const time = el("span", "0:00", "reader-clock");
    controls.append(play, speedLabel, time);
    media.append(controls);
    const keys = el("dl", null, "shortcuts");
    for (const [k, v] of [["Space", "play / pause"], ["← →", "back / forward " + SEEK_S + " s"],
      ["Shift + ← →", "back / forward " + SEEK_LONG_S + " s"], ["[ ]", "slower / faster"]]) {
      keys.append(el("dt", k), el("dd", v));
    }
    media.append(el("h4", "Keyboard"), keys);

    side.append(el("h3", "Transcript"));
    const note = el("p", null, "note");
    const list = el("ol", null, "transcript");
    side.append(note, list);

    const words = []; // {start, end, node} in time order
    const lines = []; // {start, end, node}: each transcript line
    let markList = [];
    let spanList = [];
    let current = [];
    let wave = null;
    let duration = item.duration_s || 0;
    let frame = 0;

    function seek(t) {
      audio.currentTime = Math.max(0, Math.min(t, (Number.isFinite(audio.duration) ? audio.duration : duration) || t));
      update();
    }

    function highlight(t) {
      const now = [];
      for (const w of words) {
        if (w.start > t) break;
        if (t < w.end) now.push(w.node);
      }
      if (now.length === current.length && now.every((n, i) => n === current[i])) return;
      for (const n of current) n.classList.remove("current");
      for (const n of now) n.classList.add("current");
      current = now;
      const line = now.length ? now[now.length - 1].closest("li") : null;
      if (line && (line.offsetTop < list.scrollTop || line.offsetTop + line.offsetHeight > list.scrollTop + list.clientHeight)) {
        list.scrollTop = line.offsetTop - list.clientHeight / 3;
      }
    }

    function update() {
      const t = audio.currentTime;
      const total = Number.isFinite(audio.duration) ? audio.duration : duration;
      time.textContent = clock(t) + " / " + clock(total);
      play.textContent = audio.paused ? "Play" : "Pause";
      if (wave && total) {
        const x = (t / total) * wave.width;
        wave.played.setAttribute("width", x.toFixed(1));
        wave.head.setAttribute("x1", x.toFixed(1));
        wave.head.setAttribute("x2", x.toFixed(1));
      }
      highlight(t);
    }

    function tick() {
      update();
      frame = audio.paused ? 0 : requestAnimationFrame(tick);
    }

    function toggle() {
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    }

    function setSpeed(rate) {
      audio.playbackRate = rate;
      speed.value = String(rate);
    }

    function step(dir) {
      const i = SPEEDS.indexOf(audio.playbackRate);
      const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? 2 : i) + dir))];
      setSpeed(next);
    }

    function setMarkers(marks) {
      markList = marks;
      if (!wave) return;
      wave.markers.replaceChildren();
      for (const m of marks) {
        const x = duration ? (m.at / duration) * wave.width : 0;
        const line = svg("line", { x1: x, x2: x, y1: 0, y2: wave.height, class: "marker-line" });
        const g = svg("polygon", { points: (x - 6) + ",0 " + (x + 6) + ",0 " + x + ",10", class: "marker" });
        const t = svg("title");
        t.textContent = clock(m.at) + " " + (m.label || "");
        g.append(t);
        g.addEventListener("click", (e) => { e.stopPropagation(); seek(m.at); });
        wave.markers.append(line, g);
      }
    }

    function setHighlights(spans) {
      spanList = spans;
      for (const line of lines) {
        line.node.classList.toggle("hit", spans.some((h) => h.start < line.end + 0.01 && h.end > line.start - 0.01));
      }
      if (!wave) return;
      wave.spans.replaceChildren();
      for (const h of spans) {
        const x = duration ? (h.start / duration) * wave.width : 0;
        const w = duration ? Math.max(3, ((h.end - h.start) / duration) * wave.width) : 0;
        const r = svg("rect", { x: x.toFixed(1), y: 0, width: w.toFixed(1), height: wave.height, class: "hit-span" });
        const t = svg("title");
        t.textContent = clock(h.start) + " " + (h.label || "");
        r.append(t);
        wave.spans.append(r);
      }
    }

    // Markers and highlights follow the duration once the recording says it exactly.
    function redraw() {
      if (markList.length) setMarkers(markList);
      if (spanList.length) setHighlights(spanList);
    }

    audio.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); update(); });
    audio.addEventListener("pause", update);
    audio.addEventListener("seeked", update);
    audio.addEventListener("timeupdate", () => { if (!frame) update(); });
    audio.addEventListener("loadedmetadata", () => {
      if (Number.isFinite(audio.duration) && audio.duration !== duration) { duration = audio.duration; redraw(); }
      update();
    });
    audio.addEventListener("ratechange", () => { speed.value = String(audio.playbackRate); });
    play.addEventListener("click", toggle);
    speed.addEventListener("change", () => setSpeed(Number(speed.value)));

    const controller = {
      root, audio, seek, setMarkers, setHighlights, toggle, setSpeed,
      key(e) {
        if (e.key === " ") toggle();
        else if (e.key === "ArrowLeft") seek(audio.currentTime - (e.shiftKey ? SEEK_LONG_S : SEEK_S));
        else if (e.key === "ArrowRight") seek(audio.currentTime + (e.shiftKey ? SEEK_LONG_S : SEEK_S));
        else if (e.key === "[") step(-1);
        else if (e.key === "]") step(1);
        else return false;
        return true;
      },
      destroy() {
        cancelAnimationFrame(frame);
        audio.pause();
        audio.removeAttribute("src");
        audio.load();
        if (active === controller) active = null;
        root.replaceChildren();
      },
    };
    active = controller;
    if (opts.startAt) audio.addEventListener("loadedmetadata", () => seek(opts.startAt), { once: true });

    // Channel labels: the transcript's speakers, else the parties' sides by channel.
    const labels = {};
    for (const p of item.parties || []) {
      if (p.channel_index !== null && p.channel_index !== undefined && !labels[p.channel_index]) labels[p.channel_index] = p.side;
    }
    const loads = [];
    if (item.transcript_status === "done") {
      loads.push(api(base + "/transcript").then((r) => r.json()).then((body) => {
        for (const sp of body.transcript.speakers || []) labels[sp.channel] = sp.label;
        note.textContent = body.transcript.low_confidence ? "Low confidence: the recogniser was unsure of many of these words." : "";
        note.hidden = !note.textContent;
        for (const line of transcriptLines(body.transcript)) {
          const li = el("li", null, "utterance speaker-" + line.speaker);
          const at = el("button", clock(line.start), "at");
          at.type = "button";
          at.title = "Play from " + clock(line.start);
          at.addEventListener("click", () => { seek(line.start); audio.play().catch(() => {}); });
          const said = el("span", null, "said");
          if (line.words.length) {
            line.words.forEach((w, i) => {
              const span = el("span", w.word, "word");
              span.dataset.start = String(w.start);
              span.addEventListener("click", () => { seek(w.start); audio.play().catch(() => {}); });
              said.append(span);
              if (i < line.words.length - 1) said.append(" ");
              words.push({ start: w.start, end: w.end, node: span });
            });
          } else {
            const span = el("span", line.text, "word");
            span.dataset.start = String(line.start);
            span.addEventListener("click", () => { seek(line.start); audio.play().catch(() => {}); });
            said.append(span);
            words.push({ start: line.start, end: line.end, node: span });
          }
          li.append(at, el("span", line.speaker, "speaker"), said);
          list.append(li);
          lines.push({ start: line.start, end: line.end, node: li });
        }
        words.sort((a, b) => a.start - b.start);
        if (!list.children.length) side.hidden = true;
      }));
    } else {
      side.append(el("p", "No transcript: " + item.transcript_status.replace(/_/g, " ") + ".", "note"));
    }
    await Promise.all(loads);
    try {
      const peaks = await (await api(base + "/waveform?points=" + WAVE_POINTS)).json();
      if (peaks.duration_s) duration = peaks.duration_s;
      wave = drawWave(waveBox, peaks, labels);
      wave.graph.addEventListener("click", (e) => {
        const r = wave.graph.getBoundingClientRect();
        seek(((e.clientX - r.left) / r.width) * duration);
      });
      redraw();
    } catch (err) {
      waveBox.append(el("p", "No waveform: " + err.message, "note"));
    }
    update();
    return controller;
  }

  // Keys go to the call reader on screen, unless the user is typing or on a control
  // that uses them itself (the audio element's own controls, a select, a button).
  document.addEventListener("keydown", (e) => {
    if (!active || !active.root.isConnected || active.root.closest("[hidden]")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t instanceof Element && t.closest("input, textarea, select, button, a, audio, [contenteditable]")) return;
    if (active.key(e)) e.preventDefault();
  });

  async function render(container, opts = {}) {
    const id = container.dataset.itemId;
    container.replaceChildren();
    const base = "/api/v1/items/" + encodeURIComponent(id);
    const root = el("div", null, "reader");
    container.append(root);
    try {
      const item = opts.item || await (await api(base)).json();
      root.dataset.channel = item.channel;
      if (item.channel === "call") return await renderCall(root, id, base, { ...opts, item });
      await renderEmail(root, id, base);
    } catch (err) {
      root.append(el("p", err.message, "error"));
    }
    return { root, audio: null, destroy() { root.replaceChildren(); }, seek() {}, setMarkers() {}, setHighlights() {} };
  }

  window.CommarchiveReader = { render, clock };
})();
