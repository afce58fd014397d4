// Live updates where a person waits on the system, without a build step or a library.
// - data-poll="<url>": asks the URL every two seconds (for up to two minutes) and reloads the
//   page once it answers {"arrived": true} (a tracker's ILR outcome after Process). Without
//   JavaScript the element's own "Check again" link does the same by hand.
// - data-count-poll="<url>": shows the {"unread": n} the URL answers, at once and then every
//   fifteen seconds while the page is open (the notification count in the menu).
(function () {
  "use strict";

  function getJson(url) {
    return fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  document.querySelectorAll("[data-poll]").forEach(function (element) {
    var url = element.getAttribute("data-poll");
    var started = Date.now();
    function ask() {
      getJson(url).then(function (answer) {
        if (answer && answer.arrived) {
          window.location.reload();
        } else if (Date.now() - started < 120000) {
          window.setTimeout(ask, 2000);
        }
      });
    }
    window.setTimeout(ask, 2000);
  });

  document.querySelectorAll("[data-count-poll]").forEach(function (element) {
    var url = element.getAttribute("data-count-poll");
    function ask() {
      getJson(url).then(function (answer) {
        if (answer && typeof answer.unread === "number") {
          element.textContent = answer.unread ? " (" + answer.unread + " unread)" : "";
        }
        window.setTimeout(ask, 15000);
      });
    }
    ask();
  });
})();
