// Hubbub dashboard: the small amount of browser code the server-rendered pages need. Creators and
// moderators never write any. It draws charts (uPlot) from data-series attributes the server renders,
// keeps live lists tidy (trim, de-duplicate, follow the newest chat line), shows times in the
// browser's zone, says whether the live feed is connected, and clears old toasts.
(function () {
  "use strict";

  // ---- times ----
  var fmtTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var fmtDateTime = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  function localizeTimes(root) {
    var list = root.querySelectorAll ? root.querySelectorAll("time[datetime]") : [];
    for (var i = 0; i < list.length; i++) {
      var t = list[i];
      if (t.dataset.localized) continue;
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      t.textContent = t.dataset.style === "datetime" ? fmtDateTime.format(d) : fmtTime.format(d);
      t.title = d.toISOString();
      t.dataset.localized = "1";
    }
  }

  // ---- charts ----
  var charts = []; // {host, plot, kind, sourceId}
  var css = getComputedStyle(document.documentElement);
  function color(name, fallback) {
    var v = css.getPropertyValue(name).trim();
    return v || fallback;
  }

  function parse(el) {
    try {
      return JSON.parse(el.getAttribute("data-series") || "null");
    } catch (e) {
      return null;
    }
  }

  function liveData(samples) {
    var x = [], v = [], c = [];
    for (var i = 0; i < samples.length; i++) {
      x.push(samples[i][0]);
      v.push(samples[i][1]);
      c.push(samples[i][2]);
    }
    return [x, v, c];
  }

  function sizeOf(host) {
    var w = Math.max(240, Math.floor(host.clientWidth || host.parentNode.clientWidth || 320));
    return { width: w, height: host.dataset.chart === "live" ? 170 : 200 };
  }

  function axis(stroke) {
    return { stroke: color("--muted", "#667"), grid: { stroke: color("--grid", "#eef0f5"), width: 1 }, ticks: { stroke: color("--grid", "#eef0f5"), width: 1 }, font: "12px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif", scale: stroke };
  }

  function makeChart(host) {
    if (!window.uPlot || host.dataset.drawn) return;
    var kind = host.dataset.chart;
    var accent = color("--accent", "#4f46e5");
    var teal = color("--teal", "#0d9488");
    var opts, data;
    if (kind === "live") {
      var src = document.getElementById(host.dataset.source);
      data = liveData(src ? parse(src) || [] : []);
      opts = {
        ...sizeOf(host),
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        // A fixed ten-minute window ending at the newest sample: the line grows in from the right.
        scales: { x: { time: true, range: function (u, min, max) { return [max - 600, max]; } }, v: { range: function (u, min, max) { return [0, Math.max(5, Math.ceil(max * 1.15))]; } }, c: { range: function (u, min, max) { return [0, Math.max(5, Math.ceil(max * 1.15))]; } } },
        series: [{}, { label: "Viewers", scale: "v", stroke: accent, width: 2, fill: accent + "22" }, { label: "Chat/min", scale: "c", stroke: teal, width: 1.5, dash: [4, 3] }],
        axes: [axis("x"), axis("v"), Object.assign(axis("c"), { side: 1, grid: { show: false } })],
      };
    } else {
      var d = parse(host) || { kind: "time", x: [], series: [] };
      data = [d.x.slice()].concat(d.series.map(function (s) { return s.values.slice(); }));
      // One point alone: add an empty one a span later, so the axis shows a sane range, not years.
      if (d.x.length === 1) {
        data[0].push(d.x[0] + (d.kind === "time" ? 60 : 5));
        for (var k = 1; k < data.length; k++) data[k].push(null);
      }
      var palette = [accent, teal, "#d97706"];
      opts = {
        ...sizeOf(host),
        legend: { show: true },
        scales: { x: { time: d.kind === "time" }, y: { range: function (u, min, max) { return [0, Math.max(1, Math.ceil((max || 0) * 1.15))]; } } },
        series: [{ label: d.kind === "time" ? "Time" : "Minute" }].concat(d.series.map(function (s, i) {
          return { label: s.label, stroke: palette[i % 3], width: 2, fill: palette[i % 3] + "1f", points: { show: d.x.length < 40 } };
        })),
        axes: [Object.assign(axis("x"), d.kind === "time" ? {} : { values: function (u, vals) { return vals.map(function (v) { return v + " min"; }); } }), axis("y")],
      };
    }
    var plot = new window.uPlot(opts, data, host);
    host.dataset.drawn = "1";
    charts.push({ host: host, plot: plot, kind: kind });
  }

  function refreshLive() {
    for (var i = 0; i < charts.length; i++) {
      var c = charts[i];
      if (c.kind !== "live") continue;
      var src = document.getElementById(c.host.dataset.source);
      if (src) c.plot.setData(liveData(parse(src) || []));
    }
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      for (var i = 0; i < charts.length; i++) charts[i].plot.setSize(sizeOf(charts[i].host));
    }, 150);
  });

  // ---- lists ----
  function trim(list) {
    var max = Number(list.dataset.max || 0);
    if (!max) return;
    var fromStart = list.dataset.trim !== "end";
    while (list.children.length > max) list.removeChild(fromStart ? list.firstElementChild : list.lastElementChild);
  }

  // A line may arrive twice (the page and a replay of the same moment): keep one, a tombstone wins.
  // A line marked pending (held back by the chat delay) loses its mark once viewers have it, also
  // when its visible copy never reaches this page (lines skipped under a flood). 1 s of slack.
  function unmarkLater(li) {
    var ms = Number(li.getAttribute("data-pending-ms")) || 0;
    setTimeout(function () {
      if (!li.isConnected || !li.classList.contains("msg-pending")) return;
      li.classList.remove("msg-pending");
      var note = li.querySelector(".pending-note");
      if (note) note.remove();
    }, ms + 1000);
  }

  // One line per message: a tombstone wins; else the visible version wins over the one marked
  // pending (held back by the chat delay), and it takes the place of the first copy.
  function dedupe(el) {
    if (!el.id) return;
    var same = document.querySelectorAll("#" + CSS.escape(el.id));
    if (same.length < 2) return;
    var keep = null;
    for (var i = 0; i < same.length; i++) if (same[i].classList.contains("msg-deleted")) keep = same[i];
    for (var k = 0; !keep && k < same.length; k++) if (!same[k].classList.contains("msg-pending")) keep = same[k];
    if (!keep) keep = same[0];
    if (keep !== same[0]) same[0].replaceWith(keep);
    for (var j = 0; j < same.length; j++) if (same[j] !== keep) same[j].remove();
  }

  var chatBox = null;
  var stick = true;
  function watchChat() {
    chatBox = document.querySelector(".chat-scroll");
    if (!chatBox) return;
    chatBox.scrollTop = chatBox.scrollHeight;
    chatBox.addEventListener("scroll", function () {
      stick = chatBox.scrollHeight - chatBox.scrollTop - chatBox.clientHeight < 40;
    });
  }

  // ---- toasts ----
  function expire(toast) {
    setTimeout(function () {
      toast.classList.add("toast-out");
      setTimeout(function () { toast.remove(); }, 400);
    }, toast.classList.contains("toast-error") ? 8000 : 4000);
  }

  // ---- everything the server swaps in ----
  function onAdded(node) {
    if (node.nodeType !== 1) return;
    localizeTimes(node);
    if (node.classList.contains("toast")) expire(node);
    if (node.classList.contains("msg")) dedupe(node);
    if (node.classList.contains("msg-pending")) unmarkLater(node);
    else node.querySelectorAll(".msg-pending").forEach(unmarkLater); // (a whole chat list re-rendered)
    if (node.id === "viewer-card" && !node.classList.contains("empty-card")) node.focus({ preventScroll: false });
    var hosts = node.matches("[data-chart]") ? [node] : node.querySelectorAll("[data-chart]");
    for (var i = 0; i < hosts.length; i++) makeChart(hosts[i]);
    if (node.id === "metrics" || node.querySelector("#viewer-series")) refreshLive();
  }

  new MutationObserver(function (records) {
    var lists = new Set();
    for (var i = 0; i < records.length; i++) {
      var r = records[i];
      for (var j = 0; j < r.addedNodes.length; j++) onAdded(r.addedNodes[j]);
      if (r.target && r.target.dataset && r.target.dataset.max) lists.add(r.target);
    }
    lists.forEach(trim);
    if (chatBox && stick) chatBox.scrollTop = chatBox.scrollHeight;
  }).observe(document.body, { childList: true, subtree: true });

  // ---- keyboard focus and typed reasons while panels re-render ----
  // Live fragments replace whole panels: the focused control (stable ids) gets its focus back, and a
  // reason typed into a review item is kept (by its input's id) for as long as the item is there.
  // Swaps may overlap (a decision's answer and the feed's re-render), so nothing here is reset by
  // the next swap's start.
  var keepFocus = null;
  var typed = {};
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t instanceof HTMLInputElement && t.classList.contains("rq-reason")) typed[t.id] = t.value;
  });
  document.addEventListener("htmx:before:swap", function () {
    var a = document.activeElement;
    if (a && a !== document.body && a.id) keepFocus = a.id;
  });
  // A decision (after its confirm, if any) remembers where focus should go when its item leaves:
  // the same button of the item that takes its place (the next one, else the previous).
  var decided = null;
  document.addEventListener("htmx:before:request", function (e) {
    var b = e.target instanceof Element ? e.target.closest("#review-queue button[data-verdict]") : null;
    if (!b) return;
    var item = b.closest("li");
    var near = item && (item.nextElementSibling || item.previousElementSibling);
    decided = { ctx: e.detail && e.detail.ctx, verdict: b.dataset.verdict, near: near ? near.id : null };
  });
  document.addEventListener("htmx:after:swap", function () {
    Object.keys(typed).forEach(function (id) {
      var input = document.getElementById(id);
      if (!input) delete typed[id];
      else if (!input.value && typed[id]) input.value = typed[id];
    });
    var a = document.activeElement;
    if (keepFocus && (!a || a === document.body || !a.isConnected)) {
      var again = document.getElementById(keepFocus);
      if (again) again.focus({ preventScroll: true });
    }
    keepFocus = null;
  });
  // When the decision's request is over (its answer swapped in, or skipped because the feed had
  // already removed the item and its button): focus, if it fell to <body>, goes to the neighbour.
  document.addEventListener("htmx:finally:request", function (e) {
    if (!decided || !e.detail || e.detail.ctx !== decided.ctx) return;
    var d = decided;
    decided = null;
    if (document.activeElement && document.activeElement !== document.body) return;
    var near = d.near && document.getElementById(d.near);
    var target = near && (near.querySelector('button[data-verdict="' + d.verdict + '"]') || near.querySelector("button"));
    if (target) target.focus();
  });

  // ---- the live feed's state ----
  function feedState(state, text) {
    var el = document.getElementById("feed-state");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }
  document.addEventListener("htmx:sse:after:connection", function () { feedState("live", "Live updates on"); });
  // A reconnect the server refuses: 401 (the session ended: log in again, then come back here) or
  // 403 (no longer allowed to see this stream: stop retrying, say so). Anything else is retried.
  var feedRefused = false;
  document.addEventListener("htmx:sse:error", function (e) {
    var status = e.detail && e.detail.status;
    if (status === 401) {
      feedRefused = true;
      feedState("down", "Logged out");
      window.location.assign("/dashboard/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    } else if (status === 403) {
      feedRefused = true;
      feedState("down", "You no longer have access to this stream");
    } else feedState("down", "Reconnecting…");
  });
  document.addEventListener("htmx:sse:before:connection", function (e) {
    if (feedRefused && e.detail && e.detail.connection) e.detail.connection.cancelled = true;
  });
  document.addEventListener("htmx:sse:close", function () { if (!feedRefused) feedState("down", "Disconnected"); });

  function init() {
    localizeTimes(document);
    document.querySelectorAll(".toast").forEach(expire);
    document.querySelectorAll(".msg-pending").forEach(unmarkLater);
    document.querySelectorAll("[data-chart]").forEach(makeChart);
    watchChat();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
