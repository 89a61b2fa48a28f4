// Continues from the signed-out page once every app's front-channel logout frame has loaded, or after a few
// seconds if one is slow or never loads (a frame may also have loaded before this ran, and is then waited for
// the same way). A static file, so the page's CSP needs no inline script; without script, the link stays.
(function () {
  var next = document.getElementById("continue");
  if (!next) {
    return;
  }
  var frames = document.querySelectorAll("iframe.logout-frame");
  var waiting = frames.length;
  var gone = false;
  function go() {
    if (!gone) {
      gone = true;
      window.location.assign(next.href);
    }
  }
  Array.prototype.forEach.call(frames, function (frame) {
    frame.addEventListener("load", function () {
      waiting -= 1;
      if (waiting <= 0) {
        go();
      }
    });
  });
  if (waiting === 0) {
    go();
  }
  window.setTimeout(go, 3000);
})();
