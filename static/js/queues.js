// Queues page: a card whose longest wait crosses a threshold between updates turns warning or
// critical by itself, and optional sounds (Web Audio, no files): a tone when a queue gets worse,
// a reminder while callers wait. Off until clicked on (browsers block audio before a click);
// the choice is remembered in localStorage.
(function () {
  "use strict";
  var KEY = "queues.sound";
  var REMIND_EVERY = 30; // seconds
  var RANK = { normal: 0, warning: 1, critical: 2 };
  var ICON = { normal: "✓", warning: "⚠", critical: "✖" };
  var audio = null, heard = {}, remindAt = Date.now() / 1000 + REMIND_EVERY;

  function enabled() { return localStorage.getItem(KEY) === "on"; }

  function tone(freqs, volume) {
    if (!audio || audio.state !== "running") return;
    freqs.forEach(function (freq, i) {
      var osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime + i * 0.25;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(volume || 0.2, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.22);
    });
  }

  function wake() { // only a click or key press may start audio
    if (!enabled()) return;
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
  }

  function showToggle() {
    var button = document.getElementById("queue-sound");
    if (!button) return;
    button.setAttribute("aria-pressed", enabled() ? "true" : "false");
    button.querySelector(".icon").textContent = enabled() ? "🔔" : "🔕";
  }

  // The server judged the card when it rendered it; only waiting longer can make it worse since.
  function level(card, now) {
    var state = card.dataset.state, since = parseFloat(card.dataset.longestSince);
    if (!since) return state;
    var waited = now - since, warn = +card.dataset.warnWait, critical = +card.dataset.criticalWait;
    var byWait = critical && waited >= critical ? "critical" : warn && waited >= warn ? "warning" : "normal";
    return RANK[byWait] > RANK[state] ? byWait : state;
  }

  function check() {
    var now = Date.now() / 1000, worse = 0, waiting = false;
    document.querySelectorAll("[data-queue-card]").forEach(function (card) {
      var shown = level(card, now);
      if (shown !== card.dataset.level) {
        card.dataset.level = shown;
        card.querySelector(".queue-state .icon").textContent = ICON[shown];
        card.querySelector(".queue-state .label").textContent = shown[0].toUpperCase() + shown.slice(1);
      }
      var before = heard[card.id];
      if (before !== undefined && RANK[shown] > before) worse = Math.max(worse, RANK[shown]);
      heard[card.id] = RANK[shown];
      if (+card.dataset.waiting > 0) waiting = true;
    });
    if (!enabled()) return;
    if (worse) tone(worse === 2 ? [880, 880, 880] : [660, 660], 0.25);
    if (!waiting) remindAt = now + REMIND_EVERY;
    else if (now >= remindAt) { tone([440], 0.12); remindAt = now + REMIND_EVERY; }
  }

  // A card of a queue new to this page has nowhere to be swapped into: add it at the end.
  document.addEventListener("htmx:oobErrorNoTarget", function (e) {
    var card = e.detail.content, list = document.getElementById("queue-cards");
    if (!list || !card || !card.matches || !card.matches("[data-queue-card]")) return;
    card.removeAttribute("hx-swap-oob");
    var section = document.createElement("section");
    section.className = "queue";
    section.append(card);
    list.insertBefore(section, list.querySelector(".empty"));
  });

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("#queue-sound")) {
      localStorage.setItem(KEY, enabled() ? "off" : "on");
      showToggle();
      wake();
      if (enabled()) tone([660], 0.15); // so the user hears what it sounds like
      else if (audio) audio.suspend();
    } else {
      wake();
    }
  });
  document.addEventListener("keydown", wake);
  document.addEventListener("htmx:wsAfterMessage", check);
  document.addEventListener("DOMContentLoaded", function () { showToggle(); check(); });
  setInterval(check, 1000);
})();
