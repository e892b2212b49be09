// The flows page: a flow group new to the page finds its place, and an ended flow leaves once
// its linger is over (the server counts it no more; nothing is pushed when the time runs out).
(function () {
  "use strict";

  document.addEventListener("htmx:oobErrorNoTarget", function (e) {
    var group = e.detail.content;
    var list = document.getElementById("flow-groups");
    if (!list || !group || !group.matches || !group.matches("[data-flow-group]")) return;
    group.removeAttribute("hx-swap-oob");
    list.append(group);
    htmx.process(group);
  });

  function drop() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-drop-in]").forEach(function (row) {
      if (!row.dataset.dropAt) {
        row.dataset.dropAt = now + parseFloat(row.dataset.dropIn || "0");
        return;
      }
      if (now < parseFloat(row.dataset.dropAt)) return;
      var group = row.closest("[data-flow-group]");
      row.remove();
      if (group && !group.querySelector("[data-flow-row]")) group.hidden = true;
    });
  }
  document.addEventListener("DOMContentLoaded", drop);
  document.addEventListener("htmx:wsAfterMessage", drop);
  setInterval(drop, 1000);
})();
