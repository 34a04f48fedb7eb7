/* The door scanner (templates/checkin/scanner.html).
 *
 * Three ways in, one way out: a code from the camera (decoded with jsQR), a code from a
 * keyboard-wedge scanner or typed into "Code", or a person found by name search, all go to the
 * check-in API; every answer becomes a screen-filling verdict (colour, symbol and words), a sound,
 * an announcement for screen readers and a line in "Recent scans on this device".
 *
 * No inline script or style anywhere: the Content-Security-Policy forbids them. The page's data
 * comes from the JSON block #scanner-config and data-* attributes.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("scanner-config").textContent);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  /** The same code seen by the camera again within this time is not sent again; the time starts
   *  over with every sighting, so a code held in front of the camera is sent once. */
  const DEDUP_MS = 4000;
  /** After "No connection", the camera tries a code still in view again after this time. */
  const RETRY_MS = 2500;
  const SCAN_EVERY_MS = 125; // about 8 decodes a second
  const DECODE_MAX_SIDE = 800; // pixels: larger frames are scaled down before jsQR reads them
  const POLL_MS = 10000;
  const REQUEST_TIMEOUT_MS = 8000;
  const SEARCH_DELAY_MS = 250;
  const SHOW_OK_MS = 2500;
  const SHOW_OTHER_MS = 5000;
  const RECENT_MAX = 10;
  const UNDO_REASON = "Undone at the door";

  const el = {
    session: $("session"),
    gate: $("gate"),
    gateError: $("gate-error"),
    setupNotice: $("setup-notice"),
    countIn: $("count-checked-in"),
    countRegistered: $("count-registered"),
    counter: $("counter"),
    viewfinder: $("viewfinder"),
    video: $("camera-video"),
    cameraStatus: $("camera-status"),
    cameraToggle: $("camera-toggle"),
    sound: $("sound"),
    codeForm: $("code-form"),
    code: $("code"),
    search: $("search"),
    searchStatus: $("search-status"),
    results: $("search-results"),
    recent: $("recent"),
    recentEmpty: $("recent-empty"),
    verdict: $("verdict"),
    verdictSymbol: $("verdict-symbol"),
    verdictTitle: $("verdict-title"),
    verdictName: $("verdict-name"),
    verdictPerson: $("verdict-person"),
    verdictMessage: $("verdict-message"),
    verdictSessions: $("verdict-sessions"),
    verdictCode: $("verdict-code"),
    verdictActions: $("verdict-actions"),
    verdictHint: $("verdict-hint"),
    announcer: $("announcer"),
  };

  /* ---------------------------------------------------------------- storage */

  // Settings outlive a reload (localStorage); the recent scans, which name people, last only as
  // long as the tab (sessionStorage). Private browsing may refuse both: then nothing is kept.
  const prefix = `regapp.scanner.${config.event}.`;
  const store = (area) => ({
    get(key) {
      try {
        return window[area].getItem(prefix + key);
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        window[area].setItem(prefix + key, value);
      } catch {
        /* not kept */
      }
    },
  });
  const settings = store("localStorage");
  const tabStore = store("sessionStorage");

  /* ---------------------------------------------------------------- helpers */

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /** HH:MM in the event's time zone, as the server writes times in its answers. */
  function clock(date) {
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return date.toLocaleTimeString("en-GB", { ...options, timeZone: config.timezone || undefined });
    } catch {
      return date.toLocaleTimeString("en-GB", options); // an unknown zone: the device's own
    }
  }

  /** A scanned code as people read it: R1-XXXXX-XXXXX-..., cut short if it is not one of ours. */
  function shownCode(text) {
    const compact = String(text).replace(/[\s-]+/g, "").toUpperCase();
    if (/^R1[0-9A-Z]{30}$/.test(compact)) return `R1-${compact.slice(2).match(/.{5}/g).join("-")}`;
    return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  }

  function sessionId() {
    return Number(el.session.value);
  }

  function sessionTitle(id) {
    const option = el.session.querySelector(`option[value="${id}"]`);
    return option ? option.textContent.split(" · ")[0] : "";
  }

  const coarsePointer = window.matchMedia("(pointer: coarse)").matches;
  let codeFieldUsed = false;

  /** Keep "Code" focused for keyboard-wedge scanners, except while someone types elsewhere. On a
   *  touch screen focusing it would keep the on-screen keyboard over the camera, so there it is
   *  focused only once it has been used. */
  function refocusCode() {
    if (coarsePointer && !codeFieldUsed) return;
    const active = document.activeElement;
    if (active && active !== el.code && [el.search, el.gate, el.session].includes(active)) return;
    if (active && el.verdict.contains(active) && !el.verdict.hidden) return;
    el.code.focus({ preventScroll: true });
  }

  /* ---------------------------------------------------------------- the API */

  /** One JSON request. Resolves to {kind: "ok", data} or {kind: <what went wrong>, ...}, never
   *  rejects: "network" (no answer, a timeout or a 5xx: nothing was recorded), "unauthenticated",
   *  "forbidden", "invalid" (422), "refused" (409, e.g. no seat for a walk-in), "expired" (the
   *  page's CSRF token no longer fits), "aborted" (a search overtaken by the next) or "error". */
  async function api(method, path, body, signal) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    if (signal) signal.addEventListener("abort", () => controller.abort());
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken };
    if (body) headers["Content-Type"] = "application/json";
    let response;
    let data = null;
    try {
      response = await fetch(config.api + path, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
      if ((response.headers.get("Content-Type") || "").includes("application/json")) {
        data = await response.json().catch(() => null);
      }
    } catch {
      return { kind: signal && signal.aborted ? "aborted" : "network" };
    } finally {
      clearTimeout(timer);
    }
    const message = data && data.message;
    const code = data && data.code;
    if (response.status >= 500) return { kind: "network" };
    if (response.status === 401) return { kind: "unauthenticated", message };
    if (response.ok && data) return { kind: "ok", data };
    if (response.ok && response.redirected) return { kind: "unauthenticated", message };
    // A CSRF token that no longer fits the session (signed in again in another tab, say).
    if (code === "csrf" || (response.status === 400 && !data)) return { kind: "expired" };
    if (response.status === 403) return { kind: "forbidden", message };
    if (response.status === 422) return { kind: "invalid", message, errors: data && data.errors };
    if (response.status === 409) return { kind: "refused", message, code };
    return { kind: "error", message: message || `The server answered ${response.status}.` };
  }

  /* ---------------------------------------------------------------- sound */

  let audio = null;

  function unlockAudio() {
    // Browsers start audio only from a user's gesture: make (or wake) the context on the first.
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume();
    } catch {
      audio = null;
    }
  }

  // [frequency Hz, start s, length s, waveform]: one high beep for "in", a longer middle tone for
  // "already in", two low beeps for a refusal, three short low ones when nothing was recorded.
  const SOUNDS = {
    ok: [[1320, 0, 0.16, "sine"]],
    warn: [[587, 0, 0.4, "triangle"]],
    stop: [
      [220, 0, 0.18, "square"],
      [220, 0.26, 0.18, "square"],
    ],
    error: [
      [196, 0, 0.1, "square"],
      [196, 0.16, 0.1, "square"],
      [196, 0.32, 0.1, "square"],
    ],
    info: [[784, 0, 0.12, "sine"]],
  };

  function play(tone) {
    if (!el.sound.checked || !audio || audio.state !== "running") return;
    const now = audio.currentTime + 0.01;
    for (const [frequency, start, length, type] of SOUNDS[tone] || []) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const peak = type === "square" ? 0.12 : 0.3;
      osc.type = type;
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(peak, now + start + 0.01);
      gain.gain.setValueAtTime(peak, now + start + length - 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + length + 0.02);
    }
  }

  /* ---------------------------------------------------------------- the verdict */

  const VERDICTS = {
    ok: { tone: "ok", symbol: "✓", title: "Checked in" },
    already_checked_in: { tone: "warn", symbol: "⚠", title: "Already checked in" },
    not_registered: { tone: "stop", symbol: "✕", title: "Not registered for this session" },
    waitlisted: { tone: "stop", symbol: "✕", title: "On the waitlist" },
    cancelled: { tone: "stop", symbol: "✕", title: "Registration cancelled" },
    revoked_code: { tone: "stop", symbol: "✕", title: "Old code" },
    unknown_code: { tone: "stop", symbol: "✕", title: "Unknown code" },
    outside_window: { tone: "stop", symbol: "✕", title: "Check-in is not open" },
    annulled: { tone: "info", symbol: "↶", title: "Check-in undone" },
  };
  const REGISTRATION = {
    confirmed: ["Confirmed", "badge-ok"],
    waitlisted: ["Waitlisted", "badge-wait"],
    cancelled: ["Cancelled", "badge-stop"],
  };

  let verdictTimer = null;

  /** Show a verdict over the whole screen. ``v``: tone, symbol, title, name, person, message,
   *  sessions [strings], actions [nodes], stay (no automatic dismissal). */
  function showVerdict(v) {
    clearTimeout(verdictTimer);
    el.verdict.className = `verdict tone-${v.tone}`;
    el.verdictSymbol.textContent = v.symbol;
    el.verdictTitle.textContent = v.title;
    el.verdictName.textContent = v.name || "";
    el.verdictName.hidden = !v.name;
    el.verdictPerson.textContent = v.person || "";
    el.verdictPerson.hidden = !v.person;
    const plain = (text) => (text || "").toLowerCase().replace(/[.\s]+$/, "");
    const message = plain(v.message) === plain(v.title) ? "" : v.message; // said once is enough
    el.verdictMessage.textContent = message || "";
    el.verdictMessage.hidden = !message;
    el.verdictCode.textContent = v.code ? `Code ${v.code}` : "";
    el.verdictCode.hidden = !v.code;
    el.verdictSessions.replaceChildren(...(v.sessions || []).map((s) => make("li", null, s)));
    el.verdictSessions.hidden = !(v.sessions && v.sessions.length);
    el.verdictActions.replaceChildren(...(v.actions || []));
    el.verdictHint.textContent = v.stay
      ? "Tap or press any key to close"
      : "Tap or press any key to continue";
    el.verdict.hidden = false;
    el.verdict.dataset.status = v.status || v.tone;
    announce([v.title, v.name, v.person, message, ...(v.sessions || [])].filter(Boolean).join(". "));
    play(v.tone);
    if (!v.stay) {
      const quick = v.tone === "ok" || v.tone === "info"; // good news needs no reading twice
      verdictTimer = setTimeout(hideVerdict, quick ? SHOW_OK_MS : SHOW_OTHER_MS);
    }
  }

  function hideVerdict() {
    clearTimeout(verdictTimer);
    if (el.verdict.hidden) return;
    const hadFocus = el.verdict.contains(document.activeElement);
    el.verdict.hidden = true;
    el.verdictActions.replaceChildren();
    if (hadFocus || document.activeElement === document.body) refocusCode();
  }

  function holdVerdict() {
    // Someone reaching for a button on the verdict: do not pull it away under their finger.
    clearTimeout(verdictTimer);
  }

  function announce(text) {
    // Empty the live region first, so that the same words twice are announced twice.
    el.announcer.textContent = "";
    setTimeout(() => {
      el.announcer.textContent = text;
    }, 60);
  }

  function button(label, className, onClick, describedBy) {
    const node = make("button", `button ${className || ""}`.trim(), label);
    node.type = "button";
    if (describedBy) node.setAttribute("aria-describedby", describedBy);
    node.addEventListener("click", onClick);
    return node;
  }

  function personLine(p) {
    return [p.organisation, p.country_name || p.country].filter(Boolean).join(" · ");
  }

  /** The verdict for an answer of the check-in or walk-in API. */
  function verdictFor(data, origin, entry) {
    const known = VERDICTS[data.status] || { tone: "stop", symbol: "✕", title: "Refused" };
    const p = data.participant;
    const v = { ...known, status: data.status, actions: [], message: data.message || "" };
    if (p) {
      v.name = p.name;
      v.person = personLine(p);
      if (p.category) {
        const category = p.category.charAt(0).toUpperCase() + p.category.slice(1);
        v.person = [v.person, category].filter(Boolean).join(" · ");
      }
    }
    if (data.status === "ok") v.message = ""; // the title says it all
    if (data.status === "already_checked_in" && data.checked_in_at_local) {
      const where = data.gate ? `, gate ${data.gate}` : "";
      v.title = `Already checked in at ${data.checked_in_at_local}${where}`;
      v.message = ""; // it would say the same again
    }
    if ((data.status === "not_registered" || data.status === "cancelled") && data.sessions) {
      v.sessions = data.sessions.map((s) => `${s.title} (${s.status})`);
      if (v.sessions.length && data.status === "not_registered") v.message = "Registered for:";
      if (v.sessions.length && data.status === "cancelled") v.message += " Still registered for:";
    }
    if (["unknown_code", "revoked_code"].includes(data.status) && origin.code) {
      v.code = shownCode(origin.code);
    }
    if (data.status === "ok" && data.checkin_id) {
      v.actions.push(button("Undo", "button-light", () => undo(entry)));
    }
    if (data.status === "not_registered" && config.canWalkIn && p && !origin.walkIn) {
      v.actions.push(
        button("Register and check in", "button-light", () => {
          hideVerdict();
          walkIn(p.id, p.name);
        }),
      );
    }
    return v;
  }

  /** The verdict when the API gave no verdict. */
  function problemVerdict(answer) {
    switch (answer.kind) {
      case "network":
        return {
          tone: "error",
          symbol: "!",
          title: "No connection: scan again",
          message: "Nothing was recorded.",
          status: "network",
        };
      case "unauthenticated": {
        const link = make("a", "button button-light", "Sign in again");
        link.href = config.loginUrl;
        return {
          tone: "error",
          symbol: "!",
          title: "Your session has expired: sign in again",
          message: "Nothing was recorded.",
          actions: [link],
          stay: true,
          status: "unauthenticated",
        };
      }
      case "expired": {
        const reload = button("Reload the page", "button-light", () => window.location.reload());
        return {
          tone: "error",
          symbol: "!",
          title: "This page is out of date: reload it",
          message: "Nothing was recorded.",
          actions: [reload],
          stay: true,
          status: "expired",
        };
      }
      case "forbidden":
        return {
          tone: "error",
          symbol: "!",
          title: "Not allowed",
          message: answer.message || "Your account may not do this.",
          status: "forbidden",
        };
      case "refused": // e.g. a walk-in when no seat is left (409 no_seat)
        return {
          tone: "stop",
          symbol: "✕",
          title: answer.code === "no_seat" ? "No seats left" : "Refused",
          message: answer.message || "",
          status: answer.code || "refused",
        };
      case "invalid": {
        const details = answer.errors ? Object.values(answer.errors).flat().join(" ") : "";
        return {
          tone: "stop",
          symbol: "✕",
          title: "Not accepted",
          message: [answer.message, details].filter(Boolean).join(" "),
          status: "invalid",
        };
      }
      default:
        return {
          tone: "error",
          symbol: "!",
          title: "Something went wrong: scan again",
          message: answer.message || "Nothing was recorded.",
          status: "error",
        };
    }
  }

  el.verdict.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) return;
    hideVerdict();
  });
  el.verdict.addEventListener("pointerover", (event) => {
    if (event.target.closest("button, a")) holdVerdict();
  });
  el.verdict.addEventListener("focusin", holdVerdict);

  const QUIET_KEYS = new Set(["Shift", "Control", "Alt", "Meta", "CapsLock", "Tab", "AltGraph"]);

  document.addEventListener(
    "keydown",
    (event) => {
      unlockAudio();
      if (el.verdict.hidden) return;
      if (el.verdict.contains(event.target)) {
        if (event.key === "Escape") hideVerdict();
        return; // Enter or Space on the verdict's own button is that button's
      }
      const actions = el.verdictActions.querySelectorAll("button, a");
      if (event.key === "Tab" && actions.length) {
        // The verdict covers the page: Tab goes to its buttons, not to what lies beneath.
        event.preventDefault();
        holdVerdict();
        actions[0].focus();
        return;
      }
      if (!QUIET_KEYS.has(event.key)) hideVerdict(); // the key still reaches "Code"
    },
    true,
  );
  document.addEventListener("pointerdown", unlockAudio, true);

  /* ---------------------------------------------------------------- recent scans */

  let recent = [];
  try {
    recent = JSON.parse(tabStore.get("recent") || "[]");
    if (!Array.isArray(recent)) recent = [];
  } catch {
    recent = [];
  }

  function remember(entry) {
    recent.unshift(entry);
    recent = recent.slice(0, RECENT_MAX);
    saveRecent();
  }

  function saveRecent() {
    tabStore.set("recent", JSON.stringify(recent));
    renderRecent();
  }

  function renderRecent() {
    el.recentEmpty.hidden = recent.length > 0;
    el.recent.replaceChildren(
      ...recent.map((entry) => {
        const shown = VERDICTS[entry.status] || { tone: "stop", symbol: "✕", title: entry.status };
        const tone = entry.undone ? "info" : shown.tone;
        const item = make("li", `recent-item tone-${tone}`);
        item.dataset.status = entry.undone ? "annulled" : entry.status;
        item.append(make("span", "recent-symbol", entry.undone ? "↶" : shown.symbol));
        item.lastChild.setAttribute("aria-hidden", "true");
        const main = make("span", "recent-main");
        const who = make("span", "recent-who", entry.label);
        who.id = `recent-${entry.id}`;
        const meta = [clock(new Date(entry.at)), entry.undone ? "Undone" : shown.title];
        if (entry.sessionId !== sessionId()) meta.push(entry.sessionTitle);
        main.append(who, make("span", "recent-meta", meta.join(" · ")));
        item.append(main);
        if (entry.status === "ok" && entry.checkinId && !entry.undone) {
          item.append(button("Undo", "button-small", () => undo(entry), who.id));
        }
        return item;
      }),
    );
  }

  /* ---------------------------------------------------------------- counts */

  function showCounts(counts, forSession) {
    if (!counts || forSession !== sessionId()) return;
    el.countIn.textContent = counts.checked_in;
    el.countRegistered.textContent = counts.registered;
    el.counter.classList.remove("is-stale");
  }

  async function refreshCounts() {
    const id = sessionId();
    if (!id) return;
    const answer = await api("GET", `/sessions/${id}/counts`);
    if (answer.kind === "ok") showCounts(answer.data, id);
    else el.counter.classList.add("is-stale");
  }

  setInterval(() => {
    if (!document.hidden) refreshCounts();
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshCounts();
  });

  /* ---------------------------------------------------------------- check-in */

  function gateName() {
    const gate = el.gate.value.trim();
    el.gateError.hidden = Boolean(gate);
    el.gate.classList.toggle("is-invalid", !gate);
    if (gate) el.gate.removeAttribute("aria-invalid");
    else el.gate.setAttribute("aria-invalid", "true");
    return gate;
  }

  function askForGate() {
    announce("Name your door or gate first.");
    if (document.activeElement !== el.gate) el.gate.focus();
  }

  /** Send one check-in. ``payload``: {code} or {participant_id}; ``origin``: where it came from
   *  (code, label, walkIn, fromSearch). Resolves to the API answer's kind. */
  async function send(path, payload, origin) {
    const gate = gateName();
    if (!gate) {
      askForGate();
      return "no-gate";
    }
    const forSession = sessionId();
    const body = { ...payload, session_id: forSession, gate, nonce: uuid() };
    const answer = await api("POST", path, body);
    if (answer.kind !== "ok") {
      showVerdict(problemVerdict(answer));
      refocusCode();
      return answer.kind;
    }
    const data = answer.data;
    const entry = {
      id: uuid(),
      at: new Date().toISOString(),
      label: (data.participant && data.participant.name) || origin.label,
      status: data.status,
      checkinId: data.checkin_id || null,
      sessionId: forSession,
      sessionTitle: sessionTitle(forSession),
      undone: false,
    };
    remember(entry);
    showCounts(data.counts, forSession);
    showVerdict(verdictFor(data, origin, entry));
    if (origin.fromSearch) {
      if (data.status === "ok") clearSearch();
      else runSearch();
    }
    refocusCode();
    return "ok";
  }

  function checkInCode(code, source) {
    return send("/checkins", { code }, { code, label: shownCode(code), source });
  }

  function checkInPerson(participantId, name) {
    return send("/checkins", { participant_id: participantId }, { label: name, fromSearch: true });
  }

  function walkIn(participantId, name) {
    return send(
      "/walkins",
      { participant_id: participantId },
      { label: name, walkIn: true, fromSearch: true },
    );
  }

  const undoing = new Set(); // check-in ids being undone: a double tap sends one request

  async function undo(entry) {
    if (!entry || entry.undone || undoing.has(entry.checkinId)) return;
    hideVerdict();
    undoing.add(entry.checkinId);
    const answer = await api("POST", `/checkins/${entry.checkinId}/annul`, { reason: UNDO_REASON });
    undoing.delete(entry.checkinId);
    if (answer.kind !== "ok") {
      showVerdict(problemVerdict(answer));
      return;
    }
    if (answer.data.status === "annulled") {
      entry.undone = true;
      saveRecent();
      showCounts(answer.data.counts, entry.sessionId);
      showVerdict({
        tone: "info",
        symbol: "↶",
        title: "Check-in undone",
        name: entry.label,
        message: answer.data.message || "",
        status: "annulled",
      });
    } else {
      showVerdict({
        tone: "stop",
        symbol: "✕",
        title: "Could not undo",
        message: answer.data.message || "",
        status: answer.data.status,
      });
    }
    refocusCode();
  }

  el.codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = el.code.value.trim();
    el.code.value = "";
    if (!code) {
      hideVerdict();
      return;
    }
    codeFieldUsed = true;
    checkInCode(code, "typed");
  });

  /* ---------------------------------------------------------------- search */

  let searchTimer = null;
  let searchController = null;

  function clearSearch() {
    if (searchController) searchController.abort();
    el.search.value = "";
    el.results.replaceChildren();
    el.searchStatus.textContent = "At least 2 characters.";
  }

  async function runSearch() {
    clearTimeout(searchTimer);
    if (searchController) searchController.abort();
    const q = el.search.value.trim();
    if (q.length < 2) {
      el.results.replaceChildren();
      el.searchStatus.textContent = "At least 2 characters.";
      return;
    }
    searchController = new AbortController();
    const signal = searchController.signal;
    el.searchStatus.textContent = "Searching…";
    const id = sessionId();
    const answer = await api("GET", `/sessions/${id}/search?q=${encodeURIComponent(q)}`, null, signal);
    if (signal.aborted || answer.kind === "aborted") return;
    if (answer.kind !== "ok") {
      el.results.replaceChildren();
      if (answer.kind === "unauthenticated" || answer.kind === "expired") {
        showVerdict(problemVerdict(answer));
      }
      el.searchStatus.textContent =
        answer.kind === "network" ? "No connection: try again." : answer.message || "The search failed.";
      return;
    }
    const results = answer.data.results || [];
    el.results.replaceChildren(...results.map(resultItem));
    el.searchStatus.textContent = results.length
      ? `${results.length === 1 ? "1 person" : `${results.length} people`} found${results.length >= 20 ? " (the first 20: type more to narrow it down)" : ""}.`
      : "No one found.";
  }

  function resultItem(r) {
    const item = make("li", "result");
    const nameId = `result-${r.participant_id}`;
    const info = make("div", "result-info");
    const name = make("p", "result-name", r.name);
    name.id = nameId;
    info.append(name);
    const meta = [r.organisation, r.country_name].filter(Boolean).join(" · ");
    if (meta) info.append(make("p", "result-meta", meta));
    const badges = make("p", "result-badges");
    const [label, badgeClass] = REGISTRATION[r.registration] || ["Not registered for this session", "badge-stop"];
    badges.append(make("span", `badge ${badgeClass}`, label));
    if (r.checked_in) badges.append(" ", make("span", "badge badge-in", "✓ Checked in"));
    info.append(badges);
    const actions = make("div", "result-actions");
    actions.append(button("Check in", "", () => checkInPerson(r.participant_id, r.name), nameId));
    if (config.canWalkIn && r.registration == null) {
      actions.append(
        button("Register and check in", "button-secondary", () => walkIn(r.participant_id, r.name), nameId),
      );
    }
    item.append(info, actions);
    return item;
  }

  el.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, SEARCH_DELAY_MS);
  });
  el.search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      runSearch();
    } else if (event.key === "Escape") {
      clearSearch();
    }
  });

  /* ---------------------------------------------------------------- camera */

  const camera = {
    stream: null,
    timer: null,
    canvas: document.createElement("canvas"),
    context: null,
    seen: new Map(), // code -> {until, sliding}
    starting: false,
  };

  function cameraMessage(text) {
    el.cameraStatus.textContent = text;
  }

  async function startCamera() {
    if (camera.stream || camera.starting) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraMessage("This browser cannot use the camera on this page (it needs an https address).");
      return;
    }
    if (typeof window.jsQR !== "function") {
      cameraMessage("The QR reader did not load: reload the page.");
      return;
    }
    camera.starting = true;
    el.cameraToggle.disabled = true;
    cameraMessage("Starting the camera…");
    try {
      camera.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      el.video.srcObject = camera.stream;
      await el.video.play();
    } catch (error) {
      stopTracks();
      cameraMessage(
        {
          NotAllowedError: "The camera is blocked. Allow it in the browser's site settings, then try again.",
          NotFoundError: "No camera was found on this device.",
          NotReadableError: "The camera is busy in another app. Close it, then try again.",
          OverconstrainedError: "No suitable camera was found on this device.",
        }[error && error.name] || "The camera could not start.",
      );
      return;
    } finally {
      camera.starting = false;
      el.cameraToggle.disabled = false;
    }
    settings.set("camera", "on");
    el.viewfinder.classList.add("is-on");
    el.cameraToggle.textContent = "Stop camera";
    cameraMessage("Camera on: hold the QR code inside the frame.");
    const [track] = camera.stream.getVideoTracks();
    if (track) {
      track.addEventListener("ended", () => {
        stopCamera(false);
        cameraMessage("The camera stopped. Start it again to go on scanning.");
      });
    }
    scanSoon();
  }

  function stopTracks() {
    if (camera.stream) camera.stream.getTracks().forEach((track) => track.stop());
    camera.stream = null;
    el.video.srcObject = null;
  }

  function stopCamera(byUser) {
    clearTimeout(camera.timer);
    camera.timer = null;
    stopTracks();
    el.viewfinder.classList.remove("is-on", "is-hit");
    el.cameraToggle.textContent = "Start camera";
    cameraMessage("The camera is off.");
    if (byUser) settings.set("camera", "off");
  }

  function scanSoon() {
    clearTimeout(camera.timer);
    camera.timer = setTimeout(scanFrame, SCAN_EVERY_MS);
  }

  function scanFrame() {
    if (!camera.stream) return;
    const video = el.video;
    if (!document.hidden && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      const scale = Math.min(1, DECODE_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      if (camera.canvas.width !== width || camera.canvas.height !== height) {
        camera.canvas.width = width;
        camera.canvas.height = height;
        camera.context = null;
      }
      camera.context ||= camera.canvas.getContext("2d", { willReadFrequently: true });
      camera.context.drawImage(video, 0, 0, width, height);
      const image = camera.context.getImageData(0, 0, width, height);
      const found = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
      if (found && found.data) sawCode(found.data.trim());
    }
    scanSoon();
  }

  function sawCode(code) {
    if (!code) return;
    const now = Date.now();
    for (const [key, mark] of camera.seen) if (mark.until < now) camera.seen.delete(key);
    const mark = camera.seen.get(code);
    if (mark) {
      if (mark.sliding) mark.until = now + DEDUP_MS;
      return;
    }
    if (!el.gate.value.trim()) {
      gateName();
      if (document.activeElement !== el.gate) askForGate();
      return;
    }
    camera.seen.set(code, { until: now + DEDUP_MS, sliding: true });
    el.viewfinder.classList.add("is-hit");
    setTimeout(() => el.viewfinder.classList.remove("is-hit"), 400);
    checkInCode(code, "camera").then((kind) => {
      if (kind === "network" || kind === "error") {
        camera.seen.set(code, { until: Date.now() + RETRY_MS, sliding: false });
      }
    });
  }

  el.cameraToggle.addEventListener("click", () => {
    unlockAudio();
    if (camera.stream) stopCamera(true);
    else startCamera();
  });
  window.addEventListener("pagehide", () => stopTracks());

  /* ---------------------------------------------------------------- set-up */

  function hasEnded(option) {
    const ends = Date.parse(option.dataset.endsAt);
    return Number.isFinite(ends) && ends < Date.now();
  }

  function restoreSettings() {
    const saved = settings.get("session");
    const option = saved && el.session.querySelector(`option[value="${CSS.escape(saved)}"]`);
    if (option && !option.selected) {
      if (hasEnded(option)) {
        el.setupNotice.textContent = `“${sessionTitle(saved)}” has ended, so this device now checks in for “${sessionTitle(sessionId())}”.`;
        el.setupNotice.hidden = false;
      } else {
        el.session.value = saved;
      }
    }
    el.gate.value = settings.get("gate") || "";
    el.sound.checked = settings.get("sound") !== "off";
  }

  el.session.addEventListener("change", () => {
    settings.set("session", el.session.value);
    el.setupNotice.hidden = true;
    el.countIn.textContent = "–";
    el.countRegistered.textContent = "–";
    camera.seen.clear(); // the same person may well go to the next session
    refreshCounts();
    renderRecent();
    if (el.search.value.trim().length >= 2) runSearch();
  });
  el.gate.addEventListener("input", () => {
    settings.set("gate", el.gate.value.trim());
    if (el.gate.value.trim()) gateName();
  });
  el.gate.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && el.gate.value.trim()) {
      event.preventDefault();
      el.code.focus();
    }
  });
  el.sound.addEventListener("change", () => {
    settings.set("sound", el.sound.checked ? "on" : "off");
  });

  restoreSettings();
  renderRecent();
  refreshCounts();
  if (el.gate.value.trim()) refocusCode();
  else if (!coarsePointer) el.gate.focus();

  // Start the camera by itself when the browser already lets this page use it, unless the
  // person here switched it off last time.
  if (settings.get("camera") !== "off" && navigator.permissions && navigator.permissions.query) {
    navigator.permissions
      .query({ name: "camera" })
      .then((status) => {
        if (status.state === "granted") startCamera();
      })
      .catch(() => {});
  }
})();
