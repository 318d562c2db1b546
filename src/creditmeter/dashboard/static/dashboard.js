/* creditmeter dashboard: plain JavaScript, no build step. Reads the API with the key kept in
   sessionStorage and sent as a Bearer header; draws with Chart.js (vendor/chart.umd.js). */
(function () {
  "use strict";

  // static/categories.js, written from the server's one list of categories, runs first.
  const TABLE = window.CREDITMETER_CATEGORIES;
  const CATEGORIES = TABLE.map((c) => c.name);
  const LABELS = Object.fromEntries(TABLE.map((c) => [c.name, c.label]));
  const COLORS = Object.fromEntries(TABLE.map((c) => [c.name, c.color]));
  const PRESETS = {
    last7: "Last 7 days", last30: "Last 30 days", last90: "Last 90 days",
    "this-month": "This month", "last-month": "Last month", custom: "Custom range",
  };
  const MAX_DAYS = 90; // GET /v1/account/bill/page answers at most 90 days per request
  const KEY = "creditmeter.key";
  const DAY_MS = 86400000;

  const $ = (id) => document.getElementById(id);
  // Chart.js is the next deferred script; it has run by DOMContentLoaded.
  const chartLoaded = window.Chart ? Promise.resolve()
    : new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve));
  const root = document.documentElement;
  const state = {
    key: null, account: null, view: { preset: "last30", from: "", to: "", zone: "", bot: "" },
    rows: [], total: null, hidden: new Set(), chart: null, controller: null, renders: 0,
    retryTimer: null, retry: null, customOpen: false,
  };

  // ---- Calendar days ("YYYY-MM-DD") and zones -------------------------------------------

  function dayToUtc(day) {
    const [y, m, d] = day.split("-").map(Number);
    return Date.UTC(y, m - 1, d);
  }
  function utcToDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function addDays(day, n) { return utcToDay(dayToUtc(day) + n * DAY_MS); }
  function dayCount(from, to) { return Math.round((dayToUtc(to) - dayToUtc(from)) / DAY_MS) + 1; }
  function isDay(text) { return /^\d{4}-\d{2}-\d{2}$/.test(text) && !isNaN(dayToUtc(text)); }

  const formatters = new Map();
  function partsIn(zone, ms) {
    let format = formatters.get(zone);
    if (!format) {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit",
      });
      formatters.set(zone, format);
    }
    const parts = {};
    for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
    return parts;
  }
  function localDay(zone, ms) {
    const p = partsIn(zone, ms);
    return `${p.year}-${p.month}-${p.day}`;
  }
  function offsetMs(zone, ms) {
    const p = partsIn(zone, ms);
    const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    return wall - (ms - (((ms % 1000) + 1000) % 1000));
  }
  // The first instant whose local date is `day` (as the server's days.day_start_ms): midnight
  // read with each offset in force around it, the earliest that falls on the day.
  function dayStartMs(day, zone) {
    const guess = dayToUtc(day);
    const candidates = [-DAY_MS, 0, DAY_MS].map((shift) => guess - offsetMs(zone, guess + shift));
    const onDay = candidates.filter((t) => localDay(zone, t) >= day);
    return Math.min(...(onDay.length ? onDay : candidates));
  }

  function presetRange(preset, zone) {
    const today = localDay(zone, Date.now());
    const firstOfMonth = today.slice(0, 8) + "01";
    switch (preset) {
      case "last7": return [addDays(today, -6), today];
      case "last90": return [addDays(today, -89), today];
      case "this-month": return [firstOfMonth, today];
      case "last-month": {
        const last = addDays(firstOfMonth, -1);
        return [last.slice(0, 8) + "01", last];
      }
      default: return [addDays(today, -29), today];
    }
  }

  // ---- Formatting ------------------------------------------------------------------------

  const exactFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 6 });
  const shortFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact" });
  // Strings are formatted as exact decimals by Intl.NumberFormat (no float rounding).
  const exact = (text) => exactFormat.format(text);
  const short = (text) => shortFormat.format(text);
  const dateFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", day: "numeric", month: "short", year: "numeric" });
  const tickFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", day: "numeric", month: "short" });
  const longFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" });
  const rowFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", weekday: "short", day: "numeric", month: "short" });
  const showDay = (day, format) => (format || dateFormat).format(new Date(dayToUtc(day)));

  // ---- The API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, response) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
      this.retryAfter = response ? Number(response.headers.get("Retry-After")) || 0 : 0;
      this.requestId = response ? response.headers.get("X-Request-Id") : null;
    }
  }

  // Credits are exact decimals: keep each number's source text (where the browser gives it).
  function parseExact(text) {
    return JSON.parse(text, (_key, value, context) =>
      typeof value === "number" ? (context && context.source) || String(value) : value);
  }

  async function api(path, params, options) {
    const query = new URLSearchParams(params || {}).toString();
    let response;
    try {
      response = await fetch(query ? `${path}?${query}` : path, {
        headers: {
          Authorization: `Bearer ${state.key}`,
          Accept: (options && options.accept) || "application/json",
        },
        cache: "no-store", credentials: "omit", signal: options && options.signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, { message: "the service did not answer" }, null);
    }
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (_ignored) { body = null; }
      throw new ApiError(response.status, body, response);
    }
    return response;
  }

  // what conversations.js and credits.js read the API with
  window.creditmeter = {
    api: (...args) => api(...args), parseExact: (text) => parseExact(text),
    exact: (text) => exact(text), account: () => state.account,
  };

  function billParams() {
    const v = state.view;
    const params = {
      start_time: String(dayStartMs(v.from, v.zone)),
      end_time: String(dayStartMs(addDays(v.to, 1), v.zone) - 1),
      timezone: v.zone,
    };
    if (v.bot && !state.account.bot_id) params.bot_id = v.bot;
    return params;
  }

  // ---- The view in the URL fragment (never the key) --------------------------------------

  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get("token");
    if (token) {
      sessionStorage.setItem(KEY, token.trim());
      params.delete("token");
    }
    const preset = params.get("range");
    if (preset && PRESETS[preset]) state.view.preset = preset;
    if (preset === "custom" && isDay(params.get("from") || "") && isDay(params.get("to") || "")) {
      state.view.from = params.get("from");
      state.view.to = params.get("to");
    } else if (preset === "custom") {
      state.view.preset = "last30";
    }
    state.view.zone = params.get("tz") || "";
    state.view.bot = params.get("bot") || "";
    if (token) writeFragment(); // the key leaves the address bar and the history at once
  }

  function writeFragment() {
    const v = state.view;
    const params = new URLSearchParams({ range: v.preset });
    if (v.preset === "custom") { params.set("from", v.from); params.set("to", v.to); }
    if (state.account && v.zone && v.zone !== state.account.timezone) params.set("tz", v.zone);
    if (v.bot) params.set("bot", v.bot);
    history.replaceState(null, "", `${location.pathname}${location.search}#${params}`);
  }

  // ---- Screens and states ----------------------------------------------------------------

  function setState(name) { root.dataset.state = name; }

  function showSignIn(message) {
    setState(message ? "signed-out-error" : "signed-out");
    $("board").hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    const error = $("signin-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("key-input").value = "";
    $("key-input").focus();
  }

  function setStatus(text, busy) {
    const status = $("status");
    status.textContent = text || "";
    status.classList.toggle("busy", Boolean(busy));
    $("board").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showProblem(text, options) {
    $("problem-text").textContent = text;
    $("problem").classList.toggle("warn", Boolean(options && options.warn));
    $("problem").hidden = false;
    $("retry").hidden = Boolean(options && options.noRetry);
  }

  function handleError(error, retry) {
    if (error.name === "AbortError") return;
    clearTimeout(state.retryTimer);
    setStatus("");
    $("board").querySelector(".chart-box").classList.remove("stale");
    if (error.status === 401) {
      sessionStorage.removeItem(KEY);
      state.key = null;
      signedOutReset();
      showSignIn("This key is no longer accepted: it has expired, was revoked, or was " +
        "mistyped. Ask your administrator for a new portal link, or sign in with another read key.");
      return;
    }
    setState("error");
    $("board").classList.add("failed"); // figures of another range must not stand under this one
    state.retry = retry;
    if (error.status === 429) {
      const wait = Math.min(Math.max(error.retryAfter || 1, 1), 60);
      showProblem(`Too many requests with this key right now. Trying again in ${wait} s; ` +
        "you can also select Try again.", { warn: true });
      state.retryTimer = setTimeout(retry, wait * 1000);
    } else if (error.status === 0) {
      showProblem("The service did not answer. Check your connection, then select Try again.");
    } else if (error.status === 503) {
      showProblem("The service is briefly unavailable. Try again in a moment.");
    } else if (error.status >= 500) {
      const id = error.requestId ? ` (request id ${error.requestId})` : "";
      showProblem(`The service had an unexpected problem${id}. Try again; if it keeps ` +
        "happening, send the request id to your administrator.");
    } else if (error.status === 403 || error.status === 404) {
      showProblem(`This key cannot show that: ${error.message}. Pick another bot, or ` +
        "sign in with a key that can.");
    } else if (error.status === 400 && error.message.startsWith("account_id")) {
      showProblem("The dashboard needs a read key (cmr_…); this is a platform key. " +
        "Sign out and use a read key.", { noRetry: true });
    } else {
      showProblem(`The service refused the request: ${error.message}.`);
    }
  }

  function signedOutReset() {
    if (state.controller) state.controller.abort();
    clearTimeout(state.retryTimer);
    state.account = null;
    state.rows = [];
    state.total = null;
  }

  // ---- Sign-in ---------------------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    $("signin").hidden = true;
    $("board").hidden = false;
    $("problem").hidden = true;
    setState("loading");
    setStatus("Signing in…", true);
    try {
      const response = await api("/v1/account");
      state.account = parseExact(await response.text());
    } catch (error) {
      handleError(error, () => signIn(key));
      return;
    }
    setUpControls();
    await load();
  }

  function setUpControls() {
    const account = state.account;
    $("who").hidden = false;
    $("account-name").textContent = account.name;
    let note = account.bot_id ? `· bot ${account.bot_id}` : "· all bots";
    if (account.expires_at) {
      const until = new Date(account.expires_at).toLocaleString(undefined,
        { dateStyle: "medium", timeStyle: "short" });
      note += ` · link valid until ${until}`;
    }
    $("key-note").textContent = note;

    const zones = (Intl.supportedValuesOf && Intl.supportedValuesOf("timeZone")) || [];
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const all = [...new Set([account.timezone, "UTC", browserZone, ...zones])].filter(Boolean);
    if (state.view.zone && !all.includes(state.view.zone)) all.push(state.view.zone);
    const first = all.slice(0, all.indexOf(browserZone) + 1);
    const rest = all.slice(first.length).sort();
    const zoneSelect = $("zone");
    zoneSelect.replaceChildren(...[...first, ...rest].map((zone) => {
      const suffix = zone === account.timezone ? " (account)"
        : zone === browserZone ? " (this device)" : "";
      return new Option(zone + suffix, zone);
    }));
    if (!state.view.zone) state.view.zone = account.timezone;
    zoneSelect.value = state.view.zone;

    const bound = Boolean(account.bot_id);
    $("bot-field").hidden = bound;
    $("bot-bound").hidden = !bound;
    if (bound) {
      $("bot-bound").textContent = `Bot: ${account.bot_id} (this key sees this bot only)`;
      state.view.bot = "";
    } else {
      const bots = account.bots.slice();
      if (state.view.bot && !bots.includes(state.view.bot)) state.view.bot = "";
      $("bot").replaceChildren(new Option("All bots", ""), ...bots.map((b) => new Option(b, b)));
      $("bot").value = state.view.bot;
    }
    drawLegend();
  }

  // ---- Loading a range -------------------------------------------------------------------

  function resolveRange() {
    const v = state.view;
    if (v.preset !== "custom" || !isDay(v.from) || !isDay(v.to)) {
      if (v.preset === "custom") v.preset = "last30";
      [v.from, v.to] = presetRange(v.preset, v.zone);
    }
  }

  async function load() {
    state.customOpen = false;
    resolveRange();
    writeFragment();
    reflectControls();
    if (state.controller) state.controller.abort();
    clearTimeout(state.retryTimer);
    const controller = new AbortController();
    state.controller = controller;
    $("problem").hidden = true;
    const first = !state.total;
    setState(first ? "loading" : "updating");
    setStatus(first ? "Loading your credit consumption…" : "Updating…", true);
    $("board").querySelector(".chart-box").classList.toggle("stale", !first);
    try {
      const params = billParams();
      const [page, total] = await Promise.all([
        api("/v1/account/bill/page", { ...params, page: "1", page_size: "100" },
          { signal: controller.signal }),
        api("/v1/account/bill/total", params, { signal: controller.signal }),
      ]);
      const rows = parseExact(await page.text());
      const sums = parseExact(await total.text());
      await chartLoaded;
      if (controller !== state.controller) return;
      state.rows = rows;
      state.total = sums;
    } catch (error) {
      if (controller === state.controller) handleError(error, load);
      return;
    }
    render();
  }

  function reflectControls() {
    const v = state.view;
    const chosen = state.customOpen ? "custom" : v.preset;
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === chosen));
    }
    $("custom").hidden = chosen !== "custom";
    if (chosen === "custom") {
      $("from").value = v.from;
      $("to").value = v.to;
      checkCustom();
    }
    $("zone").value = v.zone;
    if (!state.account.bot_id) $("bot").value = v.bot;
    const days = dayCount(v.from, v.to);
    const span = v.from === v.to ? showDay(v.from)
      : `${showDay(v.from)} – ${showDay(v.to)}`;
    const who = state.account.bot_id || v.bot || "all bots";
    $("range-label").textContent =
      `${PRESETS[v.preset]}: ${span} · ${days} day${days === 1 ? "" : "s"} · ${who} · ${v.zone}`;
  }

  // ---- Drawing ---------------------------------------------------------------------------

  function render() {
    const rows = state.rows;
    const total = state.total;
    const isEmpty = Number(total.total) === 0;
    setStatus("");
    $("board").querySelector(".chart-box").classList.remove("stale");
    $("board").classList.remove("failed");

    $("total-figure").textContent = short(total.total);
    $("total-figure").dataset.value = total.total;
    $("total-figure").title = `${exact(total.total)} credits`;
    if (isEmpty) {
      $("total-note").textContent = "no credits used in this range";
    } else {
      const busiest = rows.reduce((a, b) => (Number(b.total) > Number(a.total) ? b : a));
      const average = Number(total.total) / rows.length;
      $("total-note").textContent = `${short(String(average))} a day on average · busiest ` +
        `${showDay(busiest.date, tickFormat)} (${short(busiest.total)})`;
    }
    drawLegend();
    drawChart(rows);
    drawTable(rows, total);
    $("empty").hidden = !isEmpty;
    state.renders += 1;
    root.dataset.render = String(state.renders);
    if (state.renders === 1) performance.mark("creditmeter:first-render");
    setState(isEmpty ? "empty" : "ready");
    // conversations.js draws its own view of the same range
    window.dispatchEvent(new CustomEvent("creditmeter:view", { detail: billParams() }));
  }

  function drawLegend() {
    const legend = $("legend");
    const total = state.total;
    legend.replaceChildren(...CATEGORIES.map((category) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.category = category;
      button.setAttribute("aria-pressed", String(!state.hidden.has(category)));
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[category];
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = LABELS[category];
      name.title = `${LABELS[category]} (${category})`;
      const figure = document.createElement("span");
      figure.className = "figure";
      if (total) {
        figure.textContent = short(total[category]);
        figure.dataset.value = total[category];
        figure.title = `${exact(total[category])} credits`;
        const share = document.createElement("span");
        share.className = "share";
        const part = Number(total.total) ? (100 * Number(total[category])) / Number(total.total) : 0;
        share.textContent = !Number(total.total) ? ""
          : part === 0 ? "0%" : part < 0.1 ? "<0.1%" : `${part.toFixed(1)}%`;
        figure.append(" ", share);
      } else {
        figure.textContent = "–";
      }
      button.append(swatch, name, figure);
      button.setAttribute("aria-label",
        `${LABELS[category]}: ${total ? exact(total[category]) : "no figure yet"} credits`);
      button.addEventListener("click", () => toggleCategory(category));
      return button;
    }));
  }

  function toggleCategory(category) {
    if (state.hidden.has(category)) state.hidden.delete(category);
    else state.hidden.add(category);
    const button = $("legend").querySelector(`[data-category="${category}"]`);
    const shown = !state.hidden.has(category);
    button.setAttribute("aria-pressed", String(shown));
    if (state.chart) {
      state.chart.setDatasetVisibility(CATEGORIES.indexOf(category), shown);
      state.chart.update();
    }
  }

  function drawChart(rows) {
    const labels = rows.map((row) => row.date);
    const datasets = CATEGORIES.map((category) => ({
      label: LABELS[category],
      data: rows.map((row) => Number(row[category])),
      backgroundColor: COLORS[category],
      hoverBackgroundColor: COLORS[category],
      borderWidth: 0,
      stack: "credits",
      barPercentage: 0.92,
      categoryPercentage: 0.9,
      hidden: state.hidden.has(category),
    }));
    const canvas = $("chart");
    canvas.setAttribute("aria-label", `Stacked bar chart of credits per day, ${rows.length} ` +
      `days from ${showDay(labels[0])} to ${showDay(labels[labels.length - 1])}; the table ` +
      "below lists the same figures.");
    if (state.chart) {
      state.chart.data.labels = labels;
      state.chart.data.datasets = datasets;
      state.chart.update();
      return;
    }
    state.chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: {
            stacked: true,
            grid: { display: false },
            ticks: {
              maxRotation: 0, autoSkip: true, autoSkipPadding: 12, color: "#4b5563",
              callback(value) { return showDay(this.getLabelForValue(value), tickFormat); },
            },
          },
          y: {
            stacked: true, beginAtZero: true, grid: { color: "#eef1f5" },
            border: { display: false },
            title: { display: true, text: "Credits", color: "#4b5563" },
            ticks: { color: "#4b5563", callback: (value) => compactFormat.format(value) },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            backgroundColor: "#0f172a",
            padding: 10,
            boxPadding: 4,
            filter: (item) => item.raw !== 0,
            itemSort: (a, b) => a.datasetIndex - b.datasetIndex,
            callbacks: {
              title: (items) => (items.length ? showDay(items[0].label, longFormat) : ""),
              label: (item) => {
                const row = state.rows[item.dataIndex];
                return ` ${item.dataset.label}: ${exact(row[CATEGORIES[item.datasetIndex]])}`;
              },
              footer: (items) => {
                if (!items.length) return "";
                return `Total: ${exact(state.rows[items[0].dataIndex].total)} credits`;
              },
            },
          },
        },
      },
    });
  }

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function drawTable(rows, total) {
    const table = $("days");
    const oneYear = rows.length > 0 && rows[0].date.slice(0, 4) === rows[rows.length - 1].date.slice(0, 4);
    const head = document.createElement("tr");
    head.append(cell("th", "Date"), cell("th", "Total", "total"));
    for (const category of CATEGORIES) {
      const th = cell("th", "");
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.style.background = COLORS[category];
      th.append(dot, LABELS[category]);
      th.title = category;
      head.append(th);
    }
    for (const th of head.children) th.scope = "col";
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      const date = cell("th", showDay(row.date, oneYear ? rowFormat : longFormat));
      date.scope = "row";
      date.dataset.date = row.date;
      tr.append(date, cell("td", exact(row.total), "total"));
      for (const category of CATEGORIES) {
        tr.append(cell("td", exact(row[category]), Number(row[category]) ? "" : "zero"));
      }
      return tr;
    }));
    const foot = document.createElement("tr");
    const label = cell("th", `Total, ${rows.length} day${rows.length === 1 ? "" : "s"}`);
    label.scope = "row";
    foot.append(label, cell("td", exact(total.total), "total"));
    for (const category of CATEGORIES) foot.append(cell("td", exact(total[category])));
    table.tFoot.replaceChildren(foot);
  }

  // ---- CSV: exactly the API's bytes ------------------------------------------------------

  async function downloadCsv() {
    const button = $("download");
    button.disabled = true;
    try {
      const response = await api("/v1/account/bill/page",
        { ...billParams(), page: "1", page_size: "100" }, { accept: "text/csv" });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      const v = state.view;
      const bot = state.account.bot_id || v.bot;
      link.href = url;
      link.download = `credits-${state.account.account_id}${bot ? "-" + bot : ""}-` +
        `${v.from}-to-${v.to}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      handleError(error, downloadCsv);
    } finally {
      button.disabled = false;
    }
  }

  // ---- Custom range: the 90-day rule, explained ------------------------------------------

  function checkCustom() {
    const from = $("from").value;
    const to = $("to").value;
    const hint = $("custom-hint");
    hint.classList.remove("bad");
    hint.replaceChildren();
    const rule = "Both days are included; daily detail covers up to 90 days at a time.";
    if (!isDay(from) || !isDay(to)) {
      hint.textContent = `Pick a first and a last day. ${rule}`;
      return false;
    }
    if (to < from) {
      hint.classList.add("bad");
      hint.textContent = "The last day is before the first day: swap them or pick again.";
      return false;
    }
    const days = dayCount(from, to);
    if (days > MAX_DAYS) {
      hint.classList.add("bad");
      const shorter = addDays(to, -(MAX_DAYS - 1));
      hint.append(`That is ${days} days. The daily view covers at most ${MAX_DAYS} days at a ` +
        "time (the limit of the bill API), so a longer stretch is viewed, or downloaded, in " +
        "parts of up to 90 days. ");
      const fix = cell("button", `Show ${showDay(shorter)} – ${showDay(to)} instead`, "button");
      fix.type = "button";
      fix.addEventListener("click", () => {
        $("from").value = shorter;
        applyCustom();
      });
      hint.append(document.createElement("br"), fix);
      return false;
    }
    hint.textContent = `${days} day${days === 1 ? "" : "s"}. ${rule}`;
    return true;
  }

  function applyCustom() {
    if (!checkCustom()) return;
    state.view.preset = "custom";
    state.view.from = $("from").value;
    state.view.to = $("to").value;
    load();
  }

  // ---- Wiring ----------------------------------------------------------------------------

  function wire() {
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      if (/^cm[ia]_/.test(key)) {
        showSignIn("This is a platform key (ingest or admin). The dashboard takes a read key, " +
          "which starts with cmr_.");
        return;
      }
      sessionStorage.setItem(KEY, key);
      signIn(key);
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      state.key = null;
      signedOutReset();
      showSignIn("");
    });
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => {
        const preset = button.dataset.preset;
        if (preset === "custom") {
          state.customOpen = true;
          reflectControls();
          $("from").focus();
          return;
        }
        state.view.preset = preset;
        load();
      });
    }
    $("controls").addEventListener("submit", (event) => {
      event.preventDefault();
      applyCustom();
    });
    $("from").addEventListener("input", checkCustom);
    $("to").addEventListener("input", checkCustom);
    $("zone").addEventListener("change", () => {
      state.view.zone = $("zone").value;
      load();
    });
    $("bot").addEventListener("change", () => {
      state.view.bot = $("bot").value;
      load();
    });
    $("download").addEventListener("click", downloadCsv);
    $("retry").addEventListener("click", () => {
      $("problem").hidden = true;
      if (state.retry) state.retry();
    });
  }

  function start() {
    wire();
    readFragment();
    const key = sessionStorage.getItem(KEY);
    if (key) signIn(key);
    else showSignIn("");
  }

  start();
})();
