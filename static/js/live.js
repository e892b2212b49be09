// Relative times that keep moving between server updates, and the browser socket's own state.
(function () {
  "use strict";
  function seconds(n) {
    n = Math.max(0, Math.round(n));
    return n < 90 ? n + " s" : Math.round(n / 60) + " min";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var age = now - parseFloat(el.dataset.since);
      el.textContent = age < 2 ? "just now" : seconds(age) + " ago";
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      el.textContent = "in " + seconds(parseFloat(el.dataset.until) - now);
    });
  }
  function socketState(icon, label, state) {
    document.querySelectorAll("[data-socket-state]").forEach(function (el) {
      el.dataset.socketState = state;
      el.querySelector(".icon").textContent = icon;
      el.querySelector(".label").textContent = label;
    });
  }
  document.addEventListener("htmx:wsOpen", function () { socketState("●", "Dashboard connected", "open"); });
  document.addEventListener("htmx:wsClose", function () { socketState("↻", "Dashboard reconnecting…", "closed"); });
  document.addEventListener("htmx:wsAfterMessage", tick);
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
