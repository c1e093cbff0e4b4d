/*
 * Dojo Pulse content — fills parts of the DD Coder Dojo site from the published catalogue.
 *
 * Mark the places to fill, then include the script once per page:
 *
 *   <div data-dojo-content="upcoming-events" data-limit="3">
 *     <a href="/events">See the upcoming dojos</a>
 *   </div>
 *   <div data-dojo-content="resources" data-tag="scratch" data-limit="4">
 *     <a href="/resources">Browse the resources</a>
 *   </div>
 *   <div data-dojo-content="page" data-path="/about"></div>
 *
 * and in the page's <head>, before the site's own scripts:
 *
 *   <script src="https://pulse.example/content.js"></script>
 *
 * The content API is read from beside the script (https://pulse.example/api/content/...),
 * so the one line above is all a site needs; `data-endpoint` on the script tag overrides it
 * (e.g. data-endpoint="https://pulse.example/api/content/"). The site's Content Security
 * Policy must allow the collector's origin in `script-src` and `connect-src`; no inline
 * script or style is needed.
 *
 * Fallback: whatever the element holds (a link to the full list above) stays until the
 * answer has arrived, and stays for good without JavaScript or when the API cannot be
 * reached, so visitors always have a way on. A <noscript> inside the element works too.
 *
 * No layout shift: a list element reserves `data-limit` rows (a row is `--dojo-content-row`
 * high, 3.2em by default; set the property in the site's CSS to change it), and each row
 * the script writes is exactly one row high, so filling never moves the page. Loaded in
 * <head> without `defer`, the script reserves the space with a stylesheet of its own before
 * the page is first painted (it is small and cached for five minutes); loaded with `defer`
 * it works the same, but the reservation itself may move the page once (choose `defer` if
 * the collector may be slow to answer: a script in <head> holds the page's first paint until
 * it has arrived). A `page` element reserves nothing: give it a min-height in the site's CSS.
 *
 * Answers may be cached for 30 s (by the browser and shared caches): an edit published in
 * the panel shows on the site within that long.
 *
 * Safety: every text from the API is set with textContent, links are built from slugs
 * (percent-encoded), never taken as given. The one exception is a page's body, which the
 * server has already sanitised (nh3) and which is inserted as HTML.
 *
 * The element gets `data-dojo-state`: loading, ready, empty or error (style them if you
 * like). `window.dojoContent.refresh()` fills every marked element again.
 */
(function () {
  "use strict";

  if (window.dojoContent) {
    return; // included twice: the first copy fills the page
  }

  var DEFAULT_LIMIT = 3;
  var MAX_LIMIT = 20;
  var ROW = "var(--dojo-content-row, 3.2em)";
  var KINDS = { "upcoming-events": 1, resources: 1, page: 1 };

  var LISTS = ':is([data-dojo-content="upcoming-events"], [data-dojo-content="resources"])';

  // Rules, not inline styles: they hold for elements not parsed yet, so the space is there
  // from the first paint. Constructed stylesheets need no 'unsafe-inline' in the site's CSP.
  function reserveSpace() {
    if (typeof CSSStyleSheet !== "function" || !("adoptedStyleSheets" in document)) {
      return; // an older browser: fill() reserves each element when it runs
    }
    var rules = [LISTS + "{min-height: calc(" + ROW + " * " + DEFAULT_LIMIT + ")}"];
    for (var n = 1; n <= MAX_LIMIT; n++) {
      rules.push(LISTS + '[data-limit="' + n + '"]{min-height: calc(' + ROW + " * " + n + ")}");
    }
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(rules.join("\n"));
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    } catch (e) {
      // constructed stylesheets unsupported after all: fill() still reserves
    }
  }

  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) || besideScript("api/content/");

  function besideScript(path) {
    try {
      return new URL(path, script.src).href;
    } catch (e) {
      return "/" + path; // no script address (inlined copy) or no URL API
    }
  }

  function limitOf(element) {
    var raw = parseInt(element.getAttribute("data-limit"), 10);
    return raw >= 1 ? Math.min(raw, MAX_LIMIT) : DEFAULT_LIMIT;
  }

  function addressOf(element, kind) {
    if (kind === "upcoming-events") {
      return endpoint + "events?upcoming=1";
    }
    if (kind === "resources") {
      var tag = element.getAttribute("data-tag");
      return endpoint + "resources" + (tag ? "?tag=" + encodeURIComponent(tag) : "");
    }
    var path = (element.getAttribute("data-path") || "/").replace(/^\/+/, "");
    return endpoint + "pages/" + path.split("/").map(encodeURIComponent).join("/");
  }

  // ---- rendering ------------------------------------------------------------------

  function text(value) {
    return typeof value === "string" ? value : "";
  }

  function line(tag, className, value) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = value;
    // One line each, cut with an ellipsis: two lines always fill one reserved row.
    node.style.display = "block";
    node.style.whiteSpace = "nowrap";
    node.style.overflow = "hidden";
    node.style.textOverflow = "ellipsis";
    return node;
  }

  function when(item) {
    var start = new Date(text(item.starts_at));
    if (isNaN(start.getTime())) {
      return "";
    }
    var options = {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    };
    var lang = document.documentElement.lang || "en-GB";
    try {
      // The dojo's own time zone: a visitor abroad still sees when the doors open.
      options.timeZone = text(item.timezone) || undefined;
      return new Intl.DateTimeFormat(lang, options).format(start);
    } catch (e) {
      delete options.timeZone; // an unknown zone name
      return new Intl.DateTimeFormat(lang, options).format(start);
    }
  }

  function ages(item) {
    var low = item.age_min, high = item.age_max;
    if (typeof low === "number" && typeof high === "number") {
      return "ages " + low + "\u2013" + high;
    }
    return "";
  }

  function joined(parts) {
    return parts.filter(function (part) { return part; }).join(" · ");
  }

  function row(href, title, meta, className) {
    var item = document.createElement("li");
    item.className = "dojo-content-item " + className;
    item.style.boxSizing = "border-box";
    item.style.height = ROW;
    item.style.overflow = "hidden";
    item.style.margin = "0";
    var link = document.createElement("a");
    link.href = href;
    link.appendChild(line("span", "dojo-content-title", title));
    item.appendChild(link);
    item.appendChild(line("span", "dojo-content-meta", meta));
    return item;
  }

  function eventRow(item) {
    var status = text(item.status);
    var flag = status === "full" || status === "cancelled" ? status : "";
    var meta = joined([when(item), text(item.venue), ages(item), flag]);
    var href = "/events/" + encodeURIComponent(text(item.slug));
    return row(href, text(item.title), meta, flag ? "dojo-content-" + flag : "");
  }

  function resourceRow(item) {
    var href = "/resources/" + encodeURIComponent(text(item.slug));
    return row(href, text(item.title), joined([text(item.kind), ages(item)]), "");
  }

  function fillList(element, kind, body) {
    var items = body && Array.isArray(body.items) ? body.items : [];
    var limit = limitOf(element);
    var list = document.createElement("ul");
    list.className = "dojo-content-list";
    list.style.listStyle = "none";
    list.style.margin = "0";
    list.style.padding = "0";
    for (var i = 0; i < items.length && list.childNodes.length < limit; i++) {
      var item = items[i];
      if (item && typeof item === "object" && typeof item.slug === "string" && item.slug) {
        list.appendChild(kind === "upcoming-events" ? eventRow(item) : resourceRow(item));
      }
    }
    if (!list.childNodes.length) {
      element.setAttribute("data-dojo-state", "empty");
      return; // the fallback inside the element stays: it links to the full list
    }
    element.textContent = "";
    element.appendChild(list);
    element.setAttribute("data-dojo-state", "ready");
  }

  function fillPage(element, body) {
    if (!body || typeof body.body !== "string") {
      element.setAttribute("data-dojo-state", "empty");
      return;
    }
    element.innerHTML = body.body; // sanitised by the server (nh3) before it was stored
    element.setAttribute("data-dojo-state", "ready");
  }

  // ---- fetching -------------------------------------------------------------------

  var pending = {}; // address -> promise of its body: one request per distinct answer

  function load(address) {
    if (!pending[address]) {
      pending[address] = fetch(address, { credentials: "omit", mode: "cors" }).then(
        function (response) {
          if (!response.ok) {
            throw new Error("content API answered " + response.status);
          }
          return response.json();
        }
      );
    }
    return pending[address];
  }

  function fill(element) {
    var kind = element.getAttribute("data-dojo-content");
    if (!KINDS[kind] || typeof fetch !== "function") {
      return;
    }
    if (kind !== "page") {
      element.style.minHeight = "calc(" + ROW + " * " + limitOf(element) + ")";
    }
    element.setAttribute("data-dojo-state", "loading");
    load(addressOf(element, kind)).then(
      function (body) {
        if (kind === "page") {
          fillPage(element, body);
        } else {
          fillList(element, kind, body);
        }
      },
      function () {
        element.setAttribute("data-dojo-state", "error"); // the fallback stays
      }
    );
  }

  function refresh() {
    pending = {};
    var marked = document.querySelectorAll("[data-dojo-content]");
    for (var i = 0; i < marked.length; i++) {
      fill(marked[i]);
    }
  }

  reserveSpace();
  window.dojoContent = { refresh: refresh };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
