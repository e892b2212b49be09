// Tell the server how many frames this page has read, so it never writes faster than the page
// reads (a hidden or frozen tab would otherwise pile frames up in the server's memory).
(function () {
  "use strict";
  var socket = null, read = 0, told = 0;
  function tell() {
    if (socket && read !== told) {
      told = read;
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
