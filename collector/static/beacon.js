/*
 * Dojo Pulse beacon — page, form and performance events for the DD Coder Dojo site.
 *
 * Include once per page:
 *
 *   <script src="https://pulse.example/beacon.js" defer></script>
 *
 * Events go to `collect` next to the script (https://pulse.example/collect), so the one
 * line above is all a site needs; `data-endpoint` overrides it. The site's Content Security
 * Policy must allow the collector's origin in `script-src` and `connect-src`.
 *
 * What it sends (see the event contract v1 in docs/contract.md):
 *   page_view    {title}                       when the page is shown (and again on bfcache restore)
 *   page_leave   {dwell_ms, scroll_depth}      when the page is left; dwell counts visible time
 *   click        {x, y, selector, viewport_w, viewport_h}
 *                x and y are 0..1 of the whole document; the selector is a short CSS path,
 *                never the element's text
 *   scroll       {depth}                       once per 25/50/75/100 % mark reached
 *   form_start / form_field {field, action} / form_submit / form_abandon, all with form_id
 *                field is the field's name or id; its value is never read
 *   web_vital    {name, value, replaces?}      LCP, CLS, INP, FCP, TTFB (ms; CLS unitless),
 *                measured by Google's web-vitals (web-vitals.js, loaded from beside this
 *                script): CLS and INP again at every hide when they changed, naming the
 *                value sent before for the same view (replaces), all of them anew after a
 *                back/forward cache restore
 *
 * and whatever the site passes to `window.dojoPulse.track(type, props)`, for
 * registration, attendance, resource_download, conversion and experiment_exposure.
 *
 * Experiments: `dojoPulse.variant("cta_colour").then(function (v) { ... })` asks the
 * collector (`api/experiments/assign`, beside `collect`) for this visitor's variant and
 * resolves to its name, or to null (not in the experiment, not running, collector away: show
 * control). Whenever it resolves to a variant it sends experiment_exposure once per session,
 * so an exposure is never forgotten by the page.
 *
 * Delivery: events are batched and sent every 5 s or at 20 events with fetch(keepalive),
 * and with navigator.sendBeacon when the page is hidden or left. A batch is retried with
 * backoff when the collector answers 503 (honouring Retry-After) or cannot be reached, and
 * dropped on any 4xx, which retrying would not fix.
 *
 * A prerendered page sends nothing until the visitor actually opens it.
 *
 * No cookies, no localStorage: the session id lives in sessionStorage (one tab) and a new
 * one starts after 30 minutes without events.
 */
(function () {
  "use strict";

  if (window.dojoPulse) {
    return; // included twice: the first copy already listens
  }

  var FLUSH_MS = 5000;
  var FLUSH_AT = 20;
  var MAX_PER_REQUEST = 100; // the collector's limit
  var MAX_BODY_BYTES = 60000; // under the collector's 64 KiB, leaving room for the envelope
  var MAX_QUEUE = 500; // bounds memory while the collector is unreachable
  var MAX_ATTEMPTS = 6;
  var SESSION_IDLE_MS = 30 * 60 * 1000;
  var SESSION_KEY = "dojoPulse.session";
  var SCROLL_MARKS = [0.25, 0.5, 0.75, 1];
  var SKIPPED_FIELD_TYPES = { submit: 1, button: 1, reset: 1, hidden: 1, image: 1 };

  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) || besideScript("collect");

  // The page's own origin has no collector: resolve against the script's address, which
  // also keeps a collector mounted under a path prefix working.
  function besideScript(path) {
    try {
      return new URL(path, script.src).href;
    } catch (e) {
      return "/" + path; // no script address (inlined copy) or no URL API
    }
  }

  // ---- ids and session ------------------------------------------------------------

  function newId() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      return crypto.randomUUID(); // 36 chars of [0-9a-f-]
    }
    var id = "";
    if (window.crypto && crypto.getRandomValues) {
      var bytes = crypto.getRandomValues(new Uint8Array(16));
      for (var i = 0; i < bytes.length; i++) {
        id += (bytes[i] % 36).toString(36);
      }
      return id;
    }
    while (id.length < 24) {
      id += Math.random().toString(36).slice(2);
    }
    return id.slice(0, 24);
  }

  var memorySession = null; // used when sessionStorage is blocked

  function sessionId(now) {
    var session = memorySession;
    try {
      session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null") || session;
    } catch (e) {
      // storage disabled or corrupt: keep the in-memory session
    }
    if (!session || typeof session.id !== "string" || now - session.last > SESSION_IDLE_MS) {
      session = { id: newId(), last: now };
    }
    session.last = now;
    memorySession = session;
    try {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    } catch (e) {
      // private mode quota: the in-memory copy still serves this page
    }
    return session.id;
  }

  // ---- queue and delivery ---------------------------------------------------------

  var queue = [];
  var flushTimer = null;

  function emit(type, props) {
    var now = Date.now();
    var event = {
      event_id: newId(),
      type: type,
      ts: now,
      session_id: sessionId(now),
      url: location.pathname + location.search,
      props: props || {}
    };
    if (type === "page_view" && document.referrer) {
      event.referrer = document.referrer;
    }
    queue.push(event);
    if (queue.length > MAX_QUEUE) {
      queue.splice(0, queue.length - MAX_QUEUE);
    }
    if (queue.length >= FLUSH_AT) {
      flush(false);
    } else if (flushTimer === null) {
      flushTimer = setTimeout(function () { flush(false); }, FLUSH_MS);
    }
  }

  var encoder = typeof TextEncoder === "function" ? new TextEncoder() : null;

  function byteLength(text) {
    // Without TextEncoder, assume the worst UTF-8 case so a body is never too large.
    return encoder ? encoder.encode(text).length : text.length * 3;
  }

  // Cuts events into bodies the collector accepts: at most 100 events and ~60 KB each.
  function bodies(events) {
    var out = [];
    var batch = [];
    var size = 0;
    for (var i = 0; i < events.length; i++) {
      var length = byteLength(JSON.stringify(events[i])) + 1;
      if (batch.length && (batch.length >= MAX_PER_REQUEST || size + length > MAX_BODY_BYTES)) {
        out.push(batch);
        batch = [];
        size = 0;
      }
      batch.push(events[i]);
      size += length;
    }
    if (batch.length) {
      out.push(batch);
    }
    return out;
  }

  function flush(leaving) {
    if (flushTimer !== null) {
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    if (document.prerendering) {
      return; // the queue waits for activation, whose page view arms the timer again
    }
    var batches = bodies(queue.splice(0, queue.length));
    for (var i = 0; i < batches.length; i++) {
      if (leaving) {
        beacon(batches[i]);
      } else {
        post(batches[i], 1);
      }
    }
  }

  function beacon(events) {
    var body = JSON.stringify({ events: events });
    // sendBeacon survives the page being unloaded; it returns false when the browser's
    // queue is full, and then a keepalive fetch is the next best thing.
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) {
      return;
    }
    post(events, MAX_ATTEMPTS);
  }

  function post(events, attempt) {
    if (typeof fetch !== "function") {
      return;
    }
    fetch(endpoint, {
      method: "POST",
      // text/plain keeps this a "simple" cross-origin request: no preflight round trip.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify({ events: events }),
      keepalive: true,
      credentials: "omit"
    }).then(function (response) {
      if (response.status >= 500) {
        retry(events, attempt, response.headers.get("Retry-After"));
      }
      // 2xx: delivered. 4xx: the batch itself is refused; sending it again would not help.
    }, function () {
      retry(events, attempt, null); // offline or collector unreachable
    });
  }

  function retry(events, attempt, retryAfter) {
    if (attempt >= MAX_ATTEMPTS) {
      return;
    }
    var seconds = parseInt(retryAfter, 10);
    var backoff = Math.min(60000, 1000 * Math.pow(2, attempt));
    var delay = Math.max(isNaN(seconds) ? 0 : seconds * 1000, backoff);
    delay += Math.random() * 1000; // spread clients out after an outage
    setTimeout(function () { post(events, attempt + 1); }, delay);
  }

  // ---- page view, dwell and scroll --------------------------------------------------

  var visibleSince = 0;
  var visibleMs = 0;
  var maxDepth = 0;
  var marksSent = 0;
  var left = true; // until startPage: a prerendered page has no view to leave yet

  function docHeight() {
    var d = document.documentElement;
    var b = document.body || d;
    return Math.max(d.scrollHeight, b.scrollHeight, d.clientHeight);
  }

  function docWidth() {
    var d = document.documentElement;
    var b = document.body || d;
    return Math.max(d.scrollWidth, b.scrollWidth, d.clientWidth);
  }

  function clamp01(value) {
    return Math.round(Math.min(1, Math.max(0, value)) * 10000) / 10000;
  }

  function measureDepth() {
    var depth = clamp01((window.scrollY + window.innerHeight) / docHeight());
    if (depth > maxDepth) {
      maxDepth = depth;
    }
  }

  function startPage() {
    visibleMs = 0;
    visibleSince = document.visibilityState === "visible" ? Date.now() : 0;
    maxDepth = 0;
    marksSent = 0;
    left = false;
    measureDepth();
    emit("page_view", { title: document.title });
  }

  function pauseDwell() {
    if (visibleSince) {
      visibleMs += Date.now() - visibleSince;
      visibleSince = 0;
    }
  }

  var scrollPending = false;

  function onScroll() {
    // Scroll fires per frame; measuring at most every 250 ms is plenty for 25 % marks.
    if (scrollPending) {
      return;
    }
    scrollPending = true;
    setTimeout(function () {
      scrollPending = false;
      measureDepth();
      while (marksSent < SCROLL_MARKS.length && maxDepth >= SCROLL_MARKS[marksSent]) {
        emit("scroll", { depth: SCROLL_MARKS[marksSent] });
        marksSent++;
      }
    }, 250);
  }

  // ---- clicks -----------------------------------------------------------------------

  function selectorOf(element) {
    var parts = [];
    var node = element;
    while (node && node.nodeType === 1 && parts.length < 4) {
      var tag = node.tagName.toLowerCase();
      var id = node.getAttribute("id");
      if (id && /^[A-Za-z][\w-]*$/.test(id)) {
        parts.unshift(tag + "#" + id);
        break; // an id is specific enough
      }
      var part = tag;
      var classes = (node.getAttribute("class") || "").split(/\s+/);
      for (var i = 0, n = 0; i < classes.length && n < 2; i++) {
        if (/^[A-Za-z][\w-]*$/.test(classes[i])) {
          part += "." + classes[i];
          n++;
        }
      }
      var parent = node.parentElement;
      if (parent) {
        var same = 0;
        var index = 0;
        for (var c = parent.firstElementChild; c; c = c.nextElementSibling) {
          if (c.tagName === node.tagName) {
            same++;
            if (c === node) {
              index = same;
            }
          }
        }
        if (same > 1) {
          part += ":nth-of-type(" + index + ")";
        }
      }
      parts.unshift(part);
      if (tag === "body") {
        break;
      }
      node = parent;
    }
    return parts.join(" > ").slice(0, 256);
  }

  function onClick(e) {
    if (!e.target || e.target.nodeType !== 1) {
      return;
    }
    emit("click", {
      x: clamp01(e.pageX / docWidth()),
      y: clamp01(e.pageY / docHeight()),
      selector: selectorOf(e.target),
      viewport_w: window.innerWidth,
      viewport_h: window.innerHeight
    });
  }

  // ---- forms (names and actions only; a field's value is never read) -----------------

  var forms = []; // [{form, id, started, submitted}]

  function formState(form) {
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].form === form) {
        return forms[i];
      }
    }
    // getAttribute: form.id and form.name are shadowed by fields named "id" or "name".
    var id = form.getAttribute("id") || form.getAttribute("name") ||
      "form-" + Array.prototype.indexOf.call(document.forms, form);
    var state = { form: form, id: id, started: 0, submitted: false };
    forms.push(state);
    return state;
  }

  function fieldOf(e) {
    var el = e.target;
    if (!el || !el.form || !el.tagName) {
      return null;
    }
    var type = (el.getAttribute("type") || "").toLowerCase();
    if (SKIPPED_FIELD_TYPES[type]) {
      return null;
    }
    var name = el.getAttribute("name") || el.getAttribute("id") ||
      el.tagName.toLowerCase() + (type ? ":" + type : "");
    return { state: formState(el.form), name: name };
  }

  function onField(action) {
    return function (e) {
      var field = fieldOf(e);
      if (!field) {
        return;
      }
      var state = field.state;
      if (!state.started) {
        state.started = Date.now();
        state.submitted = false;
        emit("form_start", { form_id: state.id });
      }
      emit("form_field", { form_id: state.id, field: field.name, action: action });
    };
  }

  function onSubmit(e) {
    if (!e.target || e.target.tagName !== "FORM") {
      return;
    }
    var state = formState(e.target);
    var props = { form_id: state.id };
    if (state.started) {
      props.duration_ms = Date.now() - state.started;
    }
    state.submitted = true;
    emit("form_submit", props);
  }

  function abandonForms() {
    for (var i = 0; i < forms.length; i++) {
      var state = forms[i];
      if (state.started && !state.submitted) {
        emit("form_abandon", { form_id: state.id, duration_ms: Date.now() - state.started });
        state.started = 0;
      }
    }
  }

  // ---- web vitals ------------------------------------------------------------------

  var DAY_MS = 86400000;
  var sentBefore = {}; // web-vitals metric id -> {value, day} last sent for it (CLS, INP)

  // A view's CLS and INP go again at later hides; each later report names the value it
  // replaces, so the view counts once, with its latest value. Only within one UTC day: the
  // value sent on an earlier day stays that day's.
  function vital(metric) {
    var value = metric.name === "CLS"
      ? Math.round(metric.value * 10000) / 10000
      : Math.round(metric.value);
    var props = { name: metric.name, value: value };
    var day = Math.floor(Date.now() / DAY_MS);
    var before = sentBefore[metric.id];
    if (before && before.value === value) {
      return; // nothing new for this view
    }
    if (before && before.day === day) {
      props.replaces = before.value;
    }
    if (metric.name === "CLS" || metric.name === "INP") {
      sentBefore[metric.id] = { value: value, day: day };
    }
    emit("web_vital", props);
  }

  var changed = {}; // CLS and INP as they changed since the last hide: name -> metric

  function keepLatest(metric) {
    changed[metric.name] = metric;
  }

  // CLS and INP grow for as long as the page lives, so they are sent at every hide when they
  // changed since the one before. web-vitals alone reports them at a hide, but an interaction
  // it has queued for an idle moment is judged only after that report, and then waits for the
  // next hide (which may never come): with reportAllChanges every change is kept here, and
  // this hide's listener runs after all of web-vitals' (they listen on window, capturing).
  function sendChangedVitals() {
    for (var name in changed) {
      vital(changed[name]);
    }
    changed = {};
  }

  // FCP, TTFB and LCP are reported once per view; after a back/forward cache restore every
  // metric starts again for the new view.
  function watchVitals(webVitals) {
    webVitals.onFCP(vital);
    webVitals.onTTFB(vital);
    webVitals.onLCP(vital);
    webVitals.onCLS(keepLatest, { reportAllChanges: true });
    webVitals.onINP(keepLatest, { reportAllChanges: true });
  }

  // Google's web-vitals, from beside this script. A file of its own, because it is written
  // for recent browsers: one that cannot parse it loses the vitals, not the page views. Its
  // wrapper hands the API to this element instead of a global the site might use itself.
  // Its observers are buffered, so loading after the page loses no earlier measurement.
  function loadVitals() {
    var element = document.createElement("script");
    element.src = besideScript("web-vitals.js");
    element.async = true;
    element.onload = function () {
      if (element.webVitals) {
        watchVitals(element.webVitals);
      }
    };
    (document.head || document.documentElement).appendChild(element);
  }

  // ---- lifecycle -------------------------------------------------------------------

  function leavePage() {
    if (left) {
      return;
    }
    left = true;
    pauseDwell();
    measureDepth();
    abandonForms();
    sendChangedVitals();
    emit("page_leave", { dwell_ms: visibleMs, scroll_depth: maxDepth });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      pauseDwell();
      sendChangedVitals();
      // Mobile browsers may discard a hidden page without pagehide: send what we have.
      flush(true);
    } else if (!visibleSince) {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", function () {
    leavePage();
    flush(true);
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      startPage(); // restored from the back/forward cache: a new view of the page
    }
  });
  window.addEventListener("scroll", onScroll, { passive: true });
  document.addEventListener("click", onClick, true);
  document.addEventListener("focusin", onField("focus"), true);
  document.addEventListener("focusout", onField("blur"), true);
  document.addEventListener("change", onField("change"), true);
  document.addEventListener("invalid", onField("error"), true); // invalid does not bubble
  document.addEventListener("submit", onSubmit, true);

  // ---- experiments -----------------------------------------------------------------

  var EXPOSED_KEY = "dojoPulse.exposed";
  var EXPERIMENT_KEY = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  var assigned = {}; // experiment -> promise of its variant, asked once per page

  function assignUrl(key, session) {
    var query = "?experiment=" + encodeURIComponent(key) +
      "&session=" + encodeURIComponent(session);
    try {
      return new URL("api/experiments/assign", new URL(endpoint, location.href)).href + query;
    } catch (e) {
      return besideScript("api/experiments/assign") + query;
    }
  }

  // One exposure per experiment and session: remembered in sessionStorage (memory without it).
  var memoryExposed = { session: "", seen: {} };
  function expose(key, variant, session) {
    var exposed = memoryExposed;
    try {
      exposed = JSON.parse(sessionStorage.getItem(EXPOSED_KEY) || "null") || exposed;
    } catch (e) {
      // storage disabled or corrupt: the in-memory record serves this page
    }
    if (exposed.session !== session || typeof exposed.seen !== "object" || !exposed.seen) {
      exposed = { session: session, seen: {} };
    }
    if (exposed.seen[key] === variant) {
      return;
    }
    exposed.seen[key] = variant;
    memoryExposed = exposed;
    try {
      sessionStorage.setItem(EXPOSED_KEY, JSON.stringify(exposed));
    } catch (e) {
      // quota: the in-memory record still prevents a second exposure from this page
    }
    emit("experiment_exposure", { experiment: key, variant: variant });
  }

  function variantOf(key) {
    if (typeof key !== "string" || !EXPERIMENT_KEY.test(key) || !window.fetch) {
      return Promise.resolve(null);
    }
    if (!assigned[key]) {
      var session = sessionId(Date.now());
      assigned[key] = fetch(assignUrl(key, session), { credentials: "omit" })
        .then(function (reply) { return reply.ok ? reply.json() : null; })
        .then(function (body) {
          var variant = body && typeof body.variant === "string" ? body.variant : null;
          if (variant !== null) {
            expose(key, variant, session);
          }
          return variant;
        })
        .catch(function () { return null; });
    }
    return assigned[key];
  }

  window.dojoPulse = {
    /** Send a site event, e.g. track("registration", {dojo_event_id: "spring-31", tickets: 2}). */
    track: function (type, props) {
      if (typeof type !== "string" || !type) {
        return;
      }
      var copy = {};
      for (var key in props || {}) {
        if (Object.prototype.hasOwnProperty.call(props, key)) {
          copy[key] = props[key];
        }
      }
      emit(type, copy);
    },
    /** This visitor's variant of an experiment: a promise of its name, or of null. */
    variant: variantOf,
    /** Send queued events now. */
    flush: function () { flush(false); }
  };

  // web-vitals waits for activation by itself; the page view must too, or a page the browser
  // only prerendered (and the visitor never opened) would count.
  if (document.prerendering) {
    document.addEventListener("prerenderingchange", startPage, { once: true });
  } else {
    startPage();
  }
  loadVitals();
})();
