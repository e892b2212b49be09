// The little the server cannot do from afar: clocks that tick between updates, live rows
// landing in the right list, and the browser socket's own state.
(function () {
  "use strict";
  var ENDED_ROWS_KEPT = 50;

  function seconds(n) {
    n = Math.max(0, Math.round(n));
    return n < 90 ? n + " s" : Math.round(n / 60) + " min";
  }
  function clock(n) {
    n = Math.max(0, Math.floor(n));
    var h = Math.floor(n / 3600), m = Math.floor((n % 3600) / 60), s = n % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }
  // While VoIPBIN is not live (templates/includes/upstream_state.html sets data-as-of), the page's
  // figures stand as of that moment: their clocks stop instead of counting on as if nothing changed.
  function tick() {
    var now = Date.now() / 1000;
    var upstream = document.getElementById("upstream-state");
    var stale = !!(upstream && upstream.dataset.asOf);
    document.documentElement.classList.toggle("stale", stale);
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var age = now - parseFloat(el.dataset.since);
      el.textContent = age < 2 ? "just now" : seconds(age) + " ago";
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      el.textContent = "in " + seconds(parseFloat(el.dataset.until) - now);
    });
    if (stale) return;
    document.querySelectorAll("[data-duration-since]").forEach(function (el) {
      el.textContent = clock(now - parseFloat(el.dataset.durationSince));
    });
  }

  // A pushed row that is new to this page, or moved between lists (a call that ended), goes to the
  // top of the list it names. Items that carry data-sort (the inbox: keys that order as text) go
  // where their key says instead, in the direction the list's data-order names (threads newest
  // first, a thread's messages oldest first). An item whose list is not on this page (another
  // thread's message) is dropped. A row already on the page is placed before it is morphed, by what
  // the update says (its data-list and data-sort).
  function placeSorted(item, list, key) {
    var desc = list.dataset.order === "desc", before = null;
    for (var sib = list.firstElementChild; sib; sib = sib.nextElementSibling) {
      if (sib !== item && sib.dataset.sort && (desc ? sib.dataset.sort < key : sib.dataset.sort > key)) {
        before = sib;
        break;
      }
    }
    if (item.parentElement !== list || item.nextElementSibling !== before) list.insertBefore(item, before);
  }
  function place(row, update) {
    var list = update.dataset.list && document.getElementById(update.dataset.list);
    if (!list) return;
    if (update.dataset.sort) { placeSorted(row, list, update.dataset.sort); return; }
    if (row.parentElement === list) return;
    list.prepend(row);
    if (list.id.endsWith("-ended")) {
      while (list.rows.length > ENDED_ROWS_KEPT) list.deleteRow(-1);
    }
  }
  // A thread row new to a filtered inbox list shows only if it matches the search (its numbers and
  // newest text; the server's search also reads older texts, and a resync applies it exactly).
  function matchesFilter(row, list) {
    var scope = list.closest("[data-filter-q]"), q = scope && scope.dataset.filterQ;
    return !q || (row.dataset.search || "").indexOf(q.toLowerCase()) >= 0;
  }
  document.addEventListener("htmx:oobErrorNoTarget", function (e) {
    var row = e.detail.content;
    if (!row || !row.matches || !row.matches("[data-list]")) return;
    var list = document.getElementById(row.dataset.list);
    if (!list || (row.matches("[data-thread]") && !matchesFilter(row, list))) return;
    row.removeAttribute("hx-swap-oob");
    place(row, row);
    if (row.isConnected) htmx.process(row);
  });
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var old = e.detail.target, incoming = e.detail.fragment && e.detail.fragment.firstElementChild;
    if (!incoming || !incoming.matches) return;
    if (incoming.matches("[data-list]") && old.id === incoming.id) place(old, incoming);
    // A pushed thread row is rendered once for every supervisor, so it cannot carry this user's
    // unread count: keep the badges the row showed ("3 unread", "new") beside what the push brings.
    var slot = incoming.matches("[data-thread]") && incoming.querySelector("[data-unread]");
    if (!slot || !old.matches("[data-thread]")) return;
    old.querySelectorAll("[data-unread] [data-kind]").forEach(function (badge) {
      if (!slot.querySelector('[data-kind="' + badge.dataset.kind + '"]')) slot.appendChild(badge.cloneNode(true));
    });
  });

  function socketState(icon, label, state) {
    document.querySelectorAll("[data-socket-state]").forEach(function (el) {
      el.dataset.socketState = state;
      el.querySelector(".icon").textContent = icon;
      el.querySelector(".label").textContent = label;
    });
  }
  document.addEventListener("htmx:wsOpen", function () { socketState("●", "Page live", "open"); });
  var signingOut = false;
  document.addEventListener("submit", function (e) {
    if (e.target.matches(".signout")) signingOut = true; // our own sign-out navigates by itself
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail && e.detail.event && e.detail.event.code;
    if (signingOut) return;
    if (code === 4001) { window.location.reload(); return; } // signed out elsewhere
    socketState("↻", "Page reconnecting…", "closed");
    // htmx reconnects by itself only after 1006, 1011, 1012 and 1013. After any other close
    // (server restart with 1000/1001, a refused handshake, a protocol error) load the page
    // again a little later: it re-renders from state, or asks to sign in.
    if ([1006, 1011, 1012, 1013].indexOf(code) < 0) {
      setTimeout(function () { window.location.reload(); }, 2000 + Math.random() * 3000);
    }
  });
  // The menu button below 60rem: opens and closes the menu; Escape closes it and returns focus.
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-menu-toggle]");
    if (!toggle) return;
    toggle.setAttribute("aria-expanded", toggle.getAttribute("aria-expanded") === "true" ? "false" : "true");
  });
  document.addEventListener("keydown", function (e) {
    var toggle = document.querySelector('[data-menu-toggle][aria-expanded="true"]');
    if (e.key !== "Escape" || !toggle) return;
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  });

  document.addEventListener("htmx:wsAfterMessage", tick);
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
