// The wall display: rotate panels, keep a clock, count ages, and never give up reconnecting.
(function () {
  "use strict";
  function seconds(n) {
    n = Math.max(0, Math.round(n));
    return n < 90 ? n + " s" : Math.round(n / 60) + " min";
  }
  // "79 s" as its number and a smaller unit (wall.css .time-unit); the text stays "79 s".
  function showSeconds(el, n) {
    var text = seconds(n);
    if (el.textContent === text) return;
    var parts = text.split(" ");
    var unit = document.createElement("span");
    unit.className = "time-unit";
    unit.textContent = parts[1];
    el.textContent = parts[0] + " ";
    el.appendChild(unit);
  }
  function tick() {
    var now = new Date();
    document.querySelectorAll("[data-wall-clock]").forEach(function (el) {
      el.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
    var t = now.getTime() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var age = t - parseFloat(el.dataset.since);
      el.textContent = age < 2 ? "just now" : seconds(age) + " ago";
    });
    // VoIPBIN not live (the stamp carries data-as-of): waits and ages stand still with the figures.
    var stale = !!document.querySelector("#wall-updated[data-as-of]");
    document.documentElement.classList.toggle("stale", stale);
    showOpen(stale);
    if (stale) return;
    document.querySelectorAll("[data-age-since]").forEach(function (el) {
      showSeconds(el, t - parseFloat(el.dataset.ageSince));
    });
    document.querySelectorAll("[data-wait-since]").forEach(function (el) {
      showSeconds(el, t - parseFloat(el.dataset.waitSince));
    });
  }

  // One panel at a time; the indicator ("Queues · 1 of 2" and its dots) says which. It is not a
  // live region: a screen reader is not told every turn, the dots mark the panel with aria-current.
  var shown = 0;
  function show(index) {
    var panels = document.querySelectorAll(".wall-panel");
    if (!panels.length) return;
    shown = index % panels.length;
    panels.forEach(function (panel, i) { panel.classList.toggle("is-shown", i === shown); });
    var label = panels[shown].dataset.panelLabel || "";
    document.querySelectorAll("[data-indicator-label]").forEach(function (el) { el.textContent = label; });
    document.querySelectorAll("[data-indicator-position]").forEach(function (el) { el.textContent = String(shown + 1); });
    document.querySelectorAll(".wall-dots li").forEach(function (dot, i) {
      if (i === shown) dot.setAttribute("aria-current", "true");
      else dot.removeAttribute("aria-current");
    });
  }
  function rotate() {
    if (document.querySelectorAll(".wall-panel").length > 1) show(shown + 1);
  }

  function connection(state, icon, label) {
    document.querySelectorAll("[data-wall-connection]").forEach(function (el) {
      el.dataset.wallConnection = state;
      el.querySelector(".icon").textContent = icon;
      el.querySelector(".label").textContent = label;
    });
  }
  // "Live" only while both hold: this page's socket is open and VoIPBIN is heard (see tick).
  var socketOpen = false;
  function showOpen(stale) {
    if (socketOpen) connection(stale ? "stale" : "open", stale ? "◌" : "●", stale ? "Waiting for VoIPBIN" : "Live");
  }
  document.addEventListener("htmx:wsOpen", function () {
    socketOpen = true;
    showOpen(!!document.querySelector("#wall-updated[data-as-of]"));
  });

  // htmx retries by itself after 1006/1011/1012/1013. After any other close (a server restart
  // says 1001) wait until the server answers again, then load the page afresh: it re-renders
  // from state, or says the link was revoked. Forever, with capped, jittered backoff.
  var delay = 1000;
  function waitForServer() {
    fetch(window.location.href, { cache: "no-store" }).then(function () {
      window.location.reload();
    }, function () {
      delay = Math.min(30000, delay * 2);
      setTimeout(waitForServer, delay / 2 + Math.random() * delay / 2);
    });
  }
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail && e.detail.event && e.detail.event.code;
    socketOpen = false;
    connection("closed", "↻", "Reconnecting…");
    if ([1006, 1011, 1012, 1013].indexOf(code) < 0) {
      setTimeout(waitForServer, 1000 + Math.random() * 2000);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var every = parseFloat(document.body.dataset.rotationSeconds) || 15;
    setInterval(rotate, every * 1000);
  });
  document.addEventListener("htmx:wsAfterMessage", tick);
})();
