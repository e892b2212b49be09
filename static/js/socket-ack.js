// Tell the server how many frames this page has read, so it never writes faster than the page
// reads (a hidden or frozen tab would otherwise pile frames up in the server's memory).
// Once a second is enough at a few frames a second; a page reading many frames says so sooner, so
// the server's window of unread frames (200) never closes on a page that keeps up.
//
// And when to try again after the socket closed (1006, 1011, 1012 "service restart", 1013): htmx's
// full jitter, random() x 1 s x 2^tries, but at most 4 s between tries instead of htmx's 64 s, so a
// tab whose first tries fell while the server restarted (about a second) is not left waiting for
// a minute: a thousand tabs came back within 5 s of a restart, not 12 (bench/storm.py).
(function () {
  "use strict";
  var RECONNECT_MAX_MS = 4000;
  htmx.config.wsReconnectDelay = function (tries) {
    return Math.random() * Math.min(RECONNECT_MAX_MS, 1000 * Math.pow(2, tries));
  };
  var socket = null, read = 0, told = 0, toldAt = 0;
  var EVERY_MS = 1000, SOONER_AFTER = 100; // frames read since the last word
  function tell() {
    var now = Date.now();
    if (socket && read !== told && (now - toldAt >= EVERY_MS || read - told >= SOONER_AFTER)) {
      told = read;
      toldAt = now;
      socket.send(JSON.stringify({ type: "ack", frames: read }));
    }
  }
  document.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper; // frames are counted per connection
    read = 0;
    told = 0;
  });
  document.addEventListener("htmx:wsClose", function () { socket = null; });
  document.addEventListener("htmx:wsAfterMessage", function () { read += 1; });
  setInterval(tell, 250); // at most 4 a second: well inside the server's 20 frames/s allowance
})();
