/*
 * live.js: refresh marked parts of a page when the server reports a change.
 *
 * Progressive enhancement: pages are complete without it. The server side and
 * the full contract are documented in web/live.py. In short:
 *
 *   - One element (page wrapper, <main> or <body>) names what to watch:
 *       data-live-scope="dashboard"
 *       data-live-scope="request" data-live-id="123"
 *     and optionally data-live-marker="..." (the marker the page was rendered
 *     with, so a change between rendering and connecting is not missed).
 *   - Every element to refresh has an id and the attribute data-live.
 *   - The page includes <script src="/static/live.js" defer></script>.
 *
 * On "change" the script fetches the page's own URL (same query string),
 * parses it, and replaces each current [data-live][id] element with the
 * element of the same id from the fresh page. An element that holds the
 * keyboard focus or an open <details> is left alone until the user leaves it,
 * so a half-filled confirmation is never swapped away. The event stream is
 * closed while the tab is hidden (browsers allow few connections per host)
 * and reopened with the last known marker when it is shown again.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-scope]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }

  var scope = root.getAttribute("data-live-scope");
  var objectId = root.getAttribute("data-live-id");
  var marker = root.getAttribute("data-live-marker") || "";
  var source = null;
  var fetching = false;
  var again = false;
  var deferred = false;
  var stopped = false;

  function streamUrl() {
    var params = new URLSearchParams({ scope: scope });
    if (objectId) {
      params.set("id", objectId);
    }
    if (marker) {
      params.set("since", marker);
    }
    return "/live?" + params.toString();
  }

  function busy(element) {
    var active = document.activeElement;
    if (active && active !== document.body && element.contains(active)) {
      return true;
    }
    return element.querySelector("details[open]") !== null;
  }

  function swap(fresh) {
    var skipped = false;
    var current = document.querySelectorAll("[data-live][id]");
    Array.prototype.forEach.call(current, function (element) {
      var replacement = fresh.getElementById(element.id);
      if (!replacement || replacement.isEqualNode(element)) {
        return;
      }
      if (busy(element)) {
        skipped = true;
        return;
      }
      var adopted = document.importNode(replacement, true);
      adopted.classList.add("live-updated");
      element.replaceWith(adopted);
    });
    deferred = skipped;
  }

  var unseen = false;

  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    // The server marks new messages read only for a tab someone can see;
    // a refresh while hidden is repeated once the tab is shown.
    unseen = document.visibilityState === "hidden";
    fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Live-Visibility": document.visibilityState },
    })
      .then(function (response) {
        var path = new URL(response.url).pathname;
        if (response.redirected && path === "/login") {
          stop(); // logged out: a reload shows the login page
          return null;
        }
        return response.ok || response.status === 400 ? response.text() : null;
      })
      .then(function (html) {
        if (html) {
          swap(new DOMParser().parseFromString(html, "text/html"));
        }
      })
      .catch(function () { /* offline for a moment: the next change tries again */ })
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function connect() {
    if (source || stopped) {
      return;
    }
    source = new EventSource(streamUrl());
    source.addEventListener("change", function (event) {
      marker = event.lastEventId || marker;
      refresh();
    });
    source.addEventListener("ready", function (event) {
      // The marker the stream starts from; the page already shows this state.
      marker = event.lastEventId || marker;
    });
    source.addEventListener("error", function () {
      // The browser retries by itself; a CLOSED source (e.g. logged out) stays closed.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
      }
    });
  }

  function disconnect() {
    if (source) {
      source.close();
      source = null;
    }
  }

  function stop() {
    stopped = true;
    disconnect();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      disconnect();
    } else {
      connect();
      if (unseen) {
        refresh();
      }
    }
  });

  // A part skipped while the user was in it is refreshed once he leaves it.
  function retryDeferred() {
    if (deferred) {
      window.setTimeout(function () {
        if (deferred) {
          refresh();
        }
      }, 0);
    }
  }
  document.addEventListener("focusout", retryDeferred);
  document.addEventListener("toggle", retryDeferred, true);

  if (document.visibilityState !== "hidden") {
    connect();
  }
})();
