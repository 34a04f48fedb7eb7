/* The organisers' attendance dashboard (templates/reports/dashboard.html).
 *
 * The page arrives with every table rendered and the same figures as JSON in #dashboard-data.
 * This script draws the charts (Chart.js, vendored in static/vendor/) and keeps everything live:
 * every REFRESH_MS it asks for each panel's figures with the page's filters, all panels at once,
 * each in its own request (/e/<slug>/dashboard/data/<panel>, from the URL in
 * #dashboard[data-url]), and rebuilds each panel's figures, tables and charts in place as its
 * answer comes, so the filters, the scroll position and any opened "Show all" stay as they are.
 * It pauses while the tab is hidden and catches up as soon as it is shown again.
 *
 * `?refresh=N` in the page's address polls every N seconds instead (at least 2): for tests and
 * for a screen on the wall.
 *
 * No inline script or style: the Content-Security-Policy forbids them. Sizes are set through the
 * CSSOM (element.style), which the policy allows. The row markup below mirrors the macros of the
 * template: keep the two alike.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const root = $("dashboard");
  if (!root) return;

  const DEFAULT_REFRESH_S = 10;
  const MIN_REFRESH_S = 2;
  const REQUEST_TIMEOUT_MS = 8000;
  const ROWS_SHOWN = 30; // the template's rows_shown
  const CHART_TOP = 15;
  const BUCKET_MINUTES = 5; // services.arrivals
  const MAX_GAP_FILLED = 36; // empty 5-minute slots drawn between arrivals (3 hours)
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const MONTHS_LONG = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  const COLOURS = {
    ink: "#1b2430",
    muted: "#4d5969",
    grid: "#e3e8ee",
    brand: "#0b5cad",
    registeredFill: "#dbe4ef",
    registeredLine: "#5c6b7f",
    online: "#a34d00",
  };

  const refreshMs = (() => {
    const asked = Number(new URLSearchParams(window.location.search).get("refresh"));
    const seconds = Number.isFinite(asked) && asked > 0 ? Math.max(asked, MIN_REFRESH_S) : DEFAULT_REFRESH_S;
    return seconds * 1000;
  })();

  let data = JSON.parse($("dashboard-data").textContent);
  const charts = {};

  // ------------------------------------------------------------------------------ formatting

  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]
  ));
  const two = (n) => String(n).padStart(2, "0");
  /** 1234 -> "1,234", as Python's "{:,}". */
  const num = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const NONE = '<span aria-hidden="true">–</span><span class="visually-hidden">none</span>';
  /** 0.6667 -> "67%", rounding half up as the template does. */
  const pct = (rate) => (rate === null || rate === undefined ? NONE : `${Math.floor(rate * 100 + 0.5)}%`);
  const pctText = (rate) => (rate === null || rate === undefined ? "–" : `${Math.floor(rate * 100 + 0.5)}%`);
  /** "2026-11-28" -> "Sat 28 Nov", as strftime('%a %d %b'). */
  const dayLabel = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    const day = new Date(Date.UTC(y, m - 1, d));
    return `${WEEKDAYS[day.getUTCDay()]} ${two(d)} ${MONTHS[m - 1]}`;
  };
  /** The wall clock in the event's time zone (as every time on the page), or the browser's
   *  should that zone be unknown to it. */
  const zoneParts = (() => {
    let format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        timeZone: root.dataset.timezone || undefined,
        year: "numeric", month: "numeric", day: "numeric", weekday: "short",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      });
    } catch (error) {
      format = null;
    }
    return (when) => {
      if (!format) {
        return { year: when.getFullYear(), month: when.getMonth() + 1, day: when.getDate(), weekday: WEEKDAYS[when.getDay()],
          hour: two(when.getHours()), minute: two(when.getMinutes()), second: two(when.getSeconds()) };
      }
      const parts = {};
      format.formatToParts(when).forEach((p) => { parts[p.type] = p.value; });
      return parts;
    };
  })();
  const clock = (p) => `${p.hour}:${p.minute}:${p.second}`;
  const longDate = (p) => `${p.weekday} ${Number(p.day)} ${MONTHS_LONG[Number(p.month) - 1]} ${p.year}`;
  /** "Panel 1: Public service ..." shows as "Panel 1", the rest for screen readers only. */
  const shortTitle = (title) => {
    const at = title.indexOf(":");
    if (at < 0) return escapeHtml(title);
    return `${escapeHtml(title.slice(0, at))}<span class="visually-hidden">${escapeHtml(title.slice(at))}</span>`;
  };
  const truncate = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

  // ---------------------------------------------------------------------------------- tables

  const emptyRow = (columns, text) => `<tr class="empty"><td colspan="${columns}">${escapeHtml(text)}</td></tr>`;

  function setRows(id, html) {
    const body = $(id);
    if (body && body.innerHTML !== html) body.innerHTML = html;
  }

  /** "Show all 36 organisations", or "Show the top 100 of 6,714 organisations" when the
   *  server sent the top ones only (the template's more_summary). */
  const moreSummary = (shown, count, plural) => (shown < count
    ? `Show the top ${num(shown)} of ${num(count)} ${plural}` : `Show all ${num(count)} ${plural}`);

  /** The first ROWS_SHOWN rows in the table, the rest under "Show all", and the print note;
   *  `count` is how many rows there are in all (the server may send the top ones only). */
  function splitRows(key, rows, count, rowHtml, columns, plural) {
    setRows(`${key}-body`, rows.slice(0, ROWS_SHOWN).map(rowHtml).join("")
      || emptyRow(columns, "No registrations match these filters."));
    setRows(`${key}-more-body`, rows.slice(ROWS_SHOWN).map(rowHtml).join(""));
    const more = $(`${key}-more`);
    more.hidden = rows.length <= ROWS_SHOWN;
    $(`${key}-more-summary`).textContent = moreSummary(rows.length, count, plural);
    $(`${key}-print-note`).textContent = `${ROWS_SHOWN} of ${num(count)} ${plural} printed; the export has them all.`;
  }

  function renderTotals(totals) {
    root.querySelectorAll("[data-total]").forEach((el) => {
      const value = totals[el.dataset.total];
      const html = el.dataset.format === "percent" ? pct(value) : num(value);
      if (el.innerHTML !== html) el.innerHTML = html;
    });
  }

  function renderSessions(sessions) {
    const row = (s) => `<tr>
      <th scope="row"><span class="cell-title">${escapeHtml(s.title)}</span> <span class="cell-sub">${dayLabel(s.day)} · ${escapeHtml(s.starts)}</span></th>
      <td class="num">${s.capacity === null ? "unlimited" : num(s.capacity)}</td>
      <td class="num">${num(s.confirmed)}</td>
      <td class="num">${num(s.waitlisted)}</td>
      <td class="num strong">${num(s.checked_in)}</td>
      <td class="num">${num(s.in_person)}</td>
      <td class="num">${num(s.online)}</td>
      <td class="num">${num(s.no_shows)}</td>
      <td class="num strong">${pct(s.attendance_rate)}</td>
    </tr>`;
    setRows("sessions-body", sessions.map(row).join("") || emptyRow(9, "No sessions match these filters."));
  }

  const breakdownRow = (r) => `<tr>
    <th scope="row">${escapeHtml(r.name)}</th>
    <td class="num">${num(r.registered)}</td>
    <td class="num strong">${num(r.checked_in)}</td>
    <td class="num">${pct(r.attendance_rate)}</td>
  </tr>`;

  function renderBreakdown(key, breakdown, plural) {
    splitRows(key, breakdown.rows, breakdown.count, breakdownRow, 4, plural);
    drawBreakdownChart(key, breakdown.rows);
  }

  function renderMatrix(key, matrix, noun, plural) {
    const sessions = matrix.sessions;
    const head = `<tr><th scope="col">${escapeHtml(noun.charAt(0).toUpperCase() + noun.slice(1))}</th>${
      sessions.map((s) => `<th scope="col" class="num" title="${escapeHtml(s.title)}">${shortTitle(s.title)}</th>`).join("")}</tr>`;
    setRows(`${key}-head`, head);
    setRows(`${key}-more-head`, head);
    const row = (r) => `<tr><th scope="row">${escapeHtml(r.name)}</th>${sessions.map((s) => {
      const cell = r.cells[String(s.id)];
      return `<td class="num">${cell ? `${num(cell.checked_in)} / ${num(cell.registered)}` : NONE}</td>`;
    }).join("")}</tr>`;
    splitRows(key, matrix.rows, matrix.count, row, sessions.length + 1, plural);
  }

  function renderArrivals(arrivals) {
    const row = (a) => `<tr><th scope="row">${escapeHtml(a.label)}</th><td class="num">${num(a.in_person)}</td><td class="num">${num(a.online)}</td><td class="num strong">${num(a.in_person + a.online)}</td></tr>`;
    setRows("arrivals-body", arrivals.map(row).join("") || emptyRow(4, "No check-ins yet."));
    drawArrivalsChart(arrivals);
  }

  /** How each panel of services.PANELS is drawn from its figures. */
  const PANELS = {
    totals: renderTotals,
    sessions: renderSessions,
    countries: (d) => renderBreakdown("countries", d, "countries"),
    organisations: (d) => renderBreakdown("organisations", d, "organisations"),
    "country-matrix": (d) => renderMatrix("country-matrix", d, "country", "countries"),
    "organisation-matrix": (d) => renderMatrix("organisation-matrix", d, "organisation", "organisations"),
    arrivals: renderArrivals,
  };

  function render(d) {
    Object.entries(PANELS).forEach(([name, draw]) => draw(d[name]));
  }

  // ---------------------------------------------------------------------------------- charts

  const Chart = window.Chart;
  const chartsAvailable = typeof Chart === "function";
  if (chartsAvailable) {
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = COLOURS.ink;
    Chart.defaults.animation = false; // figures change every few seconds: no dancing bars
    Chart.defaults.maintainAspectRatio = false;
    // Drawn at twice the pixels at least, so that charts stay sharp when printed.
    Chart.defaults.devicePixelRatio = Math.max(window.devicePixelRatio || 1, 2);
  }

  /** Diagonal stripes, so that "online" differs from "in person" by more than its colour. */
  function stripes(colour) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const g = tile.getContext("2d");
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, 8, 8);
    g.strokeStyle = colour;
    g.lineWidth = 2.5;
    g.beginPath();
    g.moveTo(-2, 10); g.lineTo(10, -2);
    g.moveTo(-2, 2); g.lineTo(2, -2);
    g.moveTo(6, 10); g.lineTo(10, 6);
    g.stroke();
    return g.createPattern(tile, "repeat");
  }

  function showChart(key, hasData) {
    $(`${key}-chart-empty`).hidden = hasData;
    $(`${key}-chart`).closest(".chart-box").hidden = !hasData;
  }

  /** The rows each breakdown chart shows now, for its tooltips. */
  const charted = {};

  function drawBreakdownChart(key, rows) {
    if (!chartsAvailable) return;
    const top = rows.slice(0, CHART_TOP);
    charted[key] = top;
    showChart(key, top.length > 0);
    const box = $(`${key}-chart-box`);
    const height = `${Math.max(140, top.length * 30 + 64)}px`;
    if (box.style.height !== height) box.style.height = height;
    const labels = top.map((r) => r.name);
    const registered = top.map((r) => r.registered);
    const checkedIn = top.map((r) => r.checked_in);
    const chart = charts[key];
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = registered;
      chart.data.datasets[1].data = checkedIn;
      chart.update("none");
      return;
    }
    // A bullet chart: the checked-in bar (dark, narrow) drawn inside the registered one (light,
    // outlined, wide), so the two differ in width and outline as well as in colour.
    charts[key] = new Chart($(`${key}-chart`), {
      type: "bar",
      data: {
        labels,
        datasets: [
          {
            label: "Registered",
            data: registered,
            backgroundColor: COLOURS.registeredFill,
            borderColor: COLOURS.registeredLine,
            borderWidth: 1,
            grouped: false,
            barPercentage: 0.9,
            maxBarThickness: 24,
            order: 2, // drawn first, under the checked-in bar
          },
          {
            label: "Checked in",
            data: checkedIn,
            backgroundColor: COLOURS.brand,
            grouped: false,
            barPercentage: 0.45,
            maxBarThickness: 12,
            order: 1,
          },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLOURS.grid } },
          y: {
            grid: { display: false },
            ticks: {
              autoSkip: false,
              // At most about 40% of the chart's width (about 7 px a character), 12 to 30.
              callback(value) {
                const room = Math.max(12, Math.min(30, Math.floor((this.chart.width * 0.4) / 7)));
                return truncate(this.getLabelForValue(value), room);
              },
            },
          },
        },
        plugins: {
          legend: { position: "top", align: "start", labels: { boxWidth: 14 } },
          tooltip: {
            callbacks: {
              afterBody(items) {
                const row = (charted[key] || [])[items[0].dataIndex];
                return row ? `Attendance rate: ${pctText(row.attendance_rate)}` : "";
              },
            },
          },
        },
      },
    });
  }

  /** Local wall-clock parts of an ISO time with offset ("2026-11-28T03:40:00+04:00"), as a
   *  Date read with UTC getters, so that slots can be stepped without knowing the zone. */
  const wallClock = (iso) => {
    const [date, time] = iso.slice(0, 19).split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    return new Date(Date.UTC(y, mo - 1, d, h, mi));
  };
  const slotLabel = (when, withDay) => {
    const hm = `${two(when.getUTCHours())}:${two(when.getUTCMinutes())}`;
    return withDay ? `${two(when.getUTCDate())} ${MONTHS[when.getUTCMonth()]} ${hm}` : hm;
  };

  /** Arrivals with the empty 5-minute slots between them filled in (up to MAX_GAP_FILLED in a
   *  row; a longer gap shows as one "…" slot), labelled by time of day, with the day as well
   *  when the arrivals span more than one. */
  function arrivalSlots(arrivals) {
    const step = BUCKET_MINUTES * 60000;
    const points = arrivals.map((a) => ({ at: wallClock(a.time), in_person: a.in_person, online: a.online }));
    const days = new Set(points.map((p) => p.at.toISOString().slice(0, 10)));
    const withDay = days.size > 1;
    const slots = [];
    points.forEach((p, i) => {
      if (i > 0) {
        const gap = Math.round((p.at - points[i - 1].at) / step) - 1;
        if (gap > MAX_GAP_FILLED) {
          slots.push({ label: "…", in_person: null, online: null });
        } else {
          for (let k = 1; k <= gap; k += 1) {
            slots.push({ label: slotLabel(new Date(points[i - 1].at.getTime() + k * step), withDay), in_person: 0, online: 0 });
          }
        }
      }
      slots.push({ label: slotLabel(p.at, withDay), in_person: p.in_person, online: p.online });
    });
    return slots;
  }

  function drawArrivalsChart(arrivals) {
    if (!chartsAvailable) return;
    showChart("arrivals", arrivals.length > 0);
    const slots = arrivalSlots(arrivals);
    const labels = slots.map((s) => s.label);
    const inPerson = slots.map((s) => s.in_person);
    const online = slots.map((s) => s.online);
    const chart = charts.arrivals;
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = inPerson;
      chart.data.datasets[1].data = online;
      chart.update("none");
      return;
    }
    charts.arrivals = new Chart($("arrivals-chart"), {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "In person", data: inPerson, backgroundColor: COLOURS.brand, stack: "arrivals" },
          {
            label: "Online",
            data: online,
            backgroundColor: stripes(COLOURS.online),
            borderColor: COLOURS.online,
            borderWidth: 1,
            stack: "arrivals",
          },
        ],
      },
      options: {
        responsive: true,
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLOURS.grid },
            title: { display: true, text: "Check-ins" } },
        },
        plugins: {
          legend: { position: "top", align: "start", labels: { boxWidth: 14 } },
          tooltip: { mode: "index", intersect: false },
        },
      },
    });
  }

  // Charts drawn for the screen are redrawn for the paper when printing, and back afterwards.
  // The print stylesheet gives their boxes the paper's width; the print media query's change
  // comes once that style applies (a print dialog and a headless PDF alike), "beforeprint" and
  // "afterprint" only with a print dialog.
  const fitCharts = () => Object.values(charts).forEach((chart) => chart.resize());
  window.matchMedia("print").addEventListener("change", fitCharts);
  window.addEventListener("beforeprint", fitCharts);
  window.addEventListener("afterprint", fitCharts);

  // ------------------------------------------------------------------------------------ live

  const live = {
    box: $("live"),
    state: $("live-state"),
    note: $("live-note"),
    updated: $("live-updated"),
    at: $("updated-at"),
    printedAt: $("printed-at"),
  };
  let timer = null;
  let inFlight = null;
  let stopped = false;

  function setState(state, text, note) {
    live.box.dataset.state = state;
    if (live.state.textContent !== text) live.state.textContent = text;
    live.note.textContent = note || "";
    live.note.hidden = !note;
  }

  function stamp() {
    // The server says when it counted; the browser's clock may be off.
    const now = data && data.as_of ? new Date(data.as_of) : new Date();
    const parts = zoneParts(now);
    live.at.textContent = clock(parts);
    live.at.dateTime = now.toISOString();
    live.updated.hidden = false;
    live.printedAt.textContent = `${longDate(parts)}, ${clock(parts)}`;
  }

  function schedule(ms = refreshMs) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(refresh, ms);
  }

  /** The URL of one panel's figures: #dashboard[data-url] (every panel, with the filters)
   *  with the panel's name added to its path. */
  function panelUrl(name) {
    const url = new URL(root.dataset.url, window.location.href);
    url.pathname += `/${encodeURIComponent(name)}`;
    return url;
  }

  class SignedOut extends Error {}

  /** One panel's figures, drawn as soon as they come. */
  async function refreshPanel(name, signal) {
    const response = await fetch(panelUrl(name), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual", // signed out: the login page's redirect, not its HTML
      signal,
    });
    if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
      throw new SignedOut();
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const answer = await response.json();
    data[name] = answer.data;
    if (!data.as_of || answer.as_of > data.as_of) data.as_of = answer.as_of;
    PANELS[name](answer.data);
  }

  async function refresh() {
    if (document.hidden || inFlight || stopped) return;
    const controller = new AbortController();
    inFlight = controller;
    const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      data.as_of = null;
      const results = await Promise.allSettled(
        Object.keys(PANELS).map((name) => refreshPanel(name, controller.signal)),
      );
      const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason);
      if (failed.some((error) => error instanceof SignedOut)) {
        stopped = true;
        setState("stopped", "Stopped", "You are signed out. Reload the page to sign in again.");
        return;
      }
      if (failed.length) throw failed[0];
      stamp();
      setState("live", "Live", `Refreshes every ${refreshMs / 1000} s.`);
    } catch (error) {
      const why = error.name === "AbortError" ? "the server took too long"
        : error.message.startsWith("HTTP") ? `the server answered ${error.message}` : "no connection";
      setState("error", "Not updating", `New figures could not be fetched (${why}); trying again.`);
    } finally {
      clearTimeout(timeout);
      inFlight = null;
      schedule();
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (stopped) return;
    if (document.hidden) {
      clearTimeout(timer);
      setState("paused", "Paused", "Paused while this tab is hidden.");
    } else {
      refresh();
    }
  });

  const printButton = $("print-button");
  printButton.hidden = false;
  printButton.addEventListener("click", () => window.print());

  render(data);
  stamp();
  setState("live", "Live", `Refreshes every ${refreshMs / 1000} s.`);
  schedule();
})();
