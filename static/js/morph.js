// Live updates are morphed into the page (hx-swap-oob="morph"): idiomorph (npm, pinned in
// package-lock.json) turns the element on the page into the pushed one, keeping the same nodes, so
// focus, an open <details>, scroll position and what the user is typing survive.
//
// The "morph" swap style is defined here on idiomorph's core rather than with the htmx extension
// idiomorph ships: that one claims every other swap style as inline (idiomorph issue #148, so an
// "afterbegin" notice would arrive inside its wrapper) and evaluates "morph:{...}" strings as code,
// which the site's Content-Security-Policy does not allow.
(function () {
  "use strict";
  htmx.defineExtension("morph", {
    isInlineSwap: function (swapStyle) { return swapStyle === "morph"; },
    handleSwap: function (swapStyle, target, fragment) {
      if (swapStyle !== "morph") return false;
      return Idiomorph.morph(target, fragment.children, { morphStyle: "outerHTML" });
    },
  });

  // Three things a morph would otherwise undo, kept here:
  // - a form control the user changed and has not saved (a status picked on the agents board) keeps
  //   its value, unless the update brings that same value;
  // - a <details> the user opened stays open (the server renders them closed);
  // - a part loaded on demand (a call's flow timeline, data-lazy until loaded) is not put back to
  //   its placeholder; its own pushes update it.
  function valueOf(control) {
    if (control.type === "checkbox" || control.type === "radio") return control.checked;
    return control.value;
  }
  function unsaved(control) {
    if (control.matches("select")) {
      return Array.prototype.some.call(control.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    if (control.type === "checkbox" || control.type === "radio") return control.checked !== control.defaultChecked;
    return control.matches("input, textarea") && control.value !== control.defaultValue;
  }
  Idiomorph.defaults.callbacks.beforeNodeMorphed = function (old, incoming) {
    if (old.nodeType !== 1 || incoming.nodeType !== 1) return true;
    if (old.matches("input, select, textarea") && unsaved(old) && valueOf(old) !== valueOf(incoming)) return false;
    if (incoming.hasAttribute("data-lazy") && !old.hasAttribute("data-lazy")) return false;
    return true;
  };
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element, change) {
    return !(name === "open" && change === "remove" && element.matches("details"));
  };
})();
