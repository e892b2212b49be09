// Live notices (dashboard/notices.py) and answers to the user's actions: the server renders them
// into #notices, which floats over the page; this dismisses them, keeps the newest few, and, only if the user turned it on here, raises a desktop alert and plays a
// short tone. Nothing is asked of the browser until the user clicks "turn on".
(function () {
  "use strict";
  var KEPT = 3; // the overlay covers part of the page: a few at once, the newest first
  var ALERTS = "dashboard.alerts", SOUND = "dashboard.alerts.sound", CLAIM = "dashboard.notice.";
  var CLAIM_FOR = 60 * 1000;

  function read(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  function write(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function supported() { return "Notification" in window; }
  function alertsOn() { return supported() && read(ALERTS) === "on" && Notification.permission === "granted"; }
  function soundOn() { return read(SOUND) === "on"; }

  // Every open tab of the user gets the notice; the first to claim its tag alerts and sounds.
  function claim(tag) {
    var key = CLAIM + tag, now = Date.now();
    if (now - parseInt(read(key) || "0", 10) < CLAIM_FOR) return false;
    write(key, String(now));
    return true;
  }
  function forgetOldClaims() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var key = localStorage.key(i);
        if (key && key.indexOf(CLAIM) === 0 && Date.now() - parseInt(localStorage.getItem(key), 10) > 10 * CLAIM_FOR) {
          localStorage.removeItem(key);
        }
      }
    } catch (e) { /* storage unavailable */ }
  }

  // Browsers let a page start audio only after a click or key press on it: wake it then, and
  // play nothing before (a tone scheduled on a sleeping context would all play at the first click).
  var audio = null;
  function wake() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!soundOn() || !Context) return Promise.resolve();
    audio = audio || new Context();
    return audio.state === "suspended" ? audio.resume() : Promise.resolve();
  }
  function tone() {
    if (!audio || audio.state !== "running") return;
    var t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.15);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.4);
  }
  ["pointerdown", "keydown"].forEach(function (kind) { document.addEventListener(kind, wake, true); });

  function desktop(notice) {
    var shown = new Notification(notice.dataset.title || "VoIPBIN dashboard", {
      body: notice.dataset.body || "",
      tag: notice.dataset.tag || undefined,
    });
    shown.onclick = function () { window.focus(); shown.close(); };
  }

  function trim(list) {
    var shown = list.querySelectorAll(":scope > .notice");
    for (var i = KEPT; i < shown.length; i++) shown[i].remove();
  }
  function arrived(notice) {
    if (!(alertsOn() || soundOn()) || !claim(notice.dataset.tag || notice.dataset.title || "")) return;
    if (alertsOn()) desktop(notice);
    if (soundOn()) tone();
  }

  // The control in the top bar: the permission is asked for on this click and never on page load.
  function showControl() {
    var box = document.querySelector("[data-alerts]");
    if (!box) return;
    var toggle = box.querySelector("[data-alerts-toggle]"), hint = box.querySelector("[data-alerts-hint]");
    var sound = box.querySelector("[data-alerts-sound]");
    function render() {
      var on = alertsOn();
      toggle.hidden = !supported();
      toggle.textContent = on ? "Desktop alerts: on — turn off" : "Desktop alerts: off — turn on";
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      hint.textContent = !supported() ? "This browser has no desktop alerts."
        : Notification.permission === "denied" ? "Your browser blocks alerts for this site; allow them in its site settings."
        : "";
      sound.checked = soundOn();
    }
    toggle.addEventListener("click", function () {
      if (alertsOn()) { write(ALERTS, "off"); render(); return; }
      Promise.resolve(Notification.requestPermission()).then(function (answer) {
        write(ALERTS, answer === "granted" ? "on" : "off");
        render();
      });
    });
    sound.addEventListener("change", function () {
      write(SOUND, sound.checked ? "on" : "off");
      if (sound.checked) wake().then(tone); // a sample of what will sound
    });
    box.hidden = false;
    render();
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-dismiss-notice]");
    if (!button) return;
    var notice = button.closest(".notice"), next = notice.nextElementSibling || notice.previousElementSibling;
    notice.remove();
    // Keyboard users stay in the list, or go back to the page's content when it is empty.
    var focus = (next && next.querySelector("[data-dismiss-notice]")) || document.getElementById("main");
    if (focus) focus.focus({ preventScroll: true });
  });
  document.addEventListener("DOMContentLoaded", function () {
    var notices = document.getElementById("notices");
    if (notices) {
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          record.addedNodes.forEach(function (node) {
            if (node.nodeType === 1 && node.matches("[data-live-notice]")) arrived(node);
          });
        });
        trim(notices);
      }).observe(notices, { childList: true });
    }
    showControl();
    forgetOldClaims();
  });
})();
