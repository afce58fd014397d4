// Live updates where a person waits on the system, without a build step or a library: an
// element with data-poll="<url>" asks that URL every two seconds (for up to two minutes) and
// reloads the page once it answers {"arrived": true}. Without JavaScript the element's own
// "Check again" link does the same by hand.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var GIVE_UP_AFTER_MS = 120000;
  document.querySelectorAll("[data-poll]").forEach(function (element) {
    var url = element.getAttribute("data-poll");
    var started = Date.now();
    function ask() {
      fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { arrived: false }; })
        .then(function (answer) {
          if (answer.arrived) {
            window.location.reload();
          } else if (Date.now() - started < GIVE_UP_AFTER_MS) {
            window.setTimeout(ask, INTERVAL_MS);
          }
        })
        .catch(function () {
          if (Date.now() - started < GIVE_UP_AFTER_MS) window.setTimeout(ask, INTERVAL_MS);
        });
    }
    window.setTimeout(ask, INTERVAL_MS);
  });
})();
