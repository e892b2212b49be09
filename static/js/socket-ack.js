// Tell the server how many frames this page has read, so it never writes faster than the page
// reads (a hidden or frozen tab would otherwise pile frames up in the server's memory).
// Once a second is enough at a few frames a second; a page reading many frames says so sooner, so
// the server's window of unread frames (200) never closes on a page that keeps up.
(function () {
  "use strict";
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
