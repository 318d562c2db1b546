"use strict";
// The Credits view: the balance, held and available (GET /v1/account/credits/balance), the
// grants with what remains of them, the balance over the chosen range drawn from the journal
// (GET /v1/account/credits/entries, paged through Link rel="next") and the runway at the last
// 30 days' rate. Amounts are the API's decimal text; every sum is BigInt micro-credits.
// Reads the API through dashboard.js; draws with Chart.js.
(function () {
  const DAY_MS = 86400000;
  const RATE_DAYS = 30;
  const CENTURY_MS = 100 * 366 * DAY_MS;
  const STALE_MS = 30000; // a view change older than this reads the balance again
  const PAGE = 1000; // entries per request (the API's most)
  const ENTRIES = "/v1/account/credits/entries";
  const $ = (id) => document.getElementById(id);
  const view = { params: null, key: null, balance: null, entries: null, fetched: 0,
    chart: null, loads: 0, loading: null };

  // ---- Exact decimals as BigInt micro-credits ---------------------------------------------

  function micro(text) {
    const value = String(text);
    const negative = value.startsWith("-");
    const [whole, fraction = ""] = (negative ? value.slice(1) : value).split(".");
    const result = BigInt(whole || "0") * 1000000n + BigInt((fraction + "000000").slice(0, 6));
    return negative ? -result : result;
  }
  function decimal(value) {
    const negative = value < 0n;
    const magnitude = negative ? -value : value;
    const fraction = (magnitude % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
    return `${negative ? "-" : ""}${magnitude / 1000000n}${fraction ? "." + fraction : ""}`;
  }
  const shortFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const short = (text) => shortFormat.format(text); // a string: rounded as a decimal

  function dateIn(zone, ms, withTime) {
    const options = { timeZone: zone, day: "numeric", month: "short", year: "numeric" };
    if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return new Intl.DateTimeFormat(undefined, options).format(new Date(ms));
  }
  const zone = () => (view.params && view.params.timezone) || "UTC";

  // ---- The runway ------------------------------------------------------------------------

  // The burn-down order of PRODUCT.md: priority, then expires_at (never last), then creation
  // order (the API lists grants in it).
  function drawOrder(a, b) {
    if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
    if (a.expires !== b.expires) {
      if (a.expires === null) return 1;
      if (b.expires === null) return -1;
      return a.expires < b.expires ? -1 : 1;
    }
    return a.order - b.order;
  }

  // What the balance does at the last 30 days' rate: "overage", "idle" (no usage in them),
  // "spent" (nothing available), or "until" with the instant the credits run out. Usage is
  // drawn as the server draws it, grant by grant, and what a grant has left when it expires
  // is lost: walked from expiry to expiry in integer micro-credits and milliseconds.
  function runway(balance, entries, now) {
    const since = now - RATE_DAYS * DAY_MS;
    let used = 0n;
    for (const entry of entries) {
      const time = Number(entry.time);
      if (entry.type === "usage" && time > since && time <= now) used -= micro(entry.credits);
    }
    if (!entries.length) return { kind: "none", used };
    if (micro(balance.overage) > 0n || micro(balance.balance) < 0n) return { kind: "overage", used };
    if (used <= 0n) return { kind: "idle", used };
    const lots = balance.grants
      .map((g, order) => ({ left: micro(g.remaining), priority: Number(g.priority), order,
        expires: g.expires_at === null ? null : BigInt(g.expires_at), status: g.status }))
      .filter((g) => g.status === "active" && g.left > 0n)
      .sort(drawOrder);
    let held = micro(balance.held); // reserved credits are spent first, at once
    for (const lot of lots) {
      const take = held < lot.left ? held : lot.left;
      lot.left -= take;
      held -= take;
    }
    let t = BigInt(now);
    const period = BigInt(RATE_DAYS * DAY_MS);
    const live = lots.filter((lot) => lot.left > 0n);
    if (!live.length) return { kind: "spent", used };
    while (live.length) {
      for (let i = live.length - 1; i >= 0; i -= 1) {
        if (live[i].expires !== null && live[i].expires <= t) live.splice(i, 1);
      }
      if (!live.length) break;
      const lot = live[0];
      const empty = t + (lot.left * period) / used;
      const expiries = live.map((l) => l.expires).filter((e) => e !== null);
      const next = expiries.length ? expiries.reduce((a, b) => (b < a ? b : a)) : null;
      if (next === null || empty <= next) {
        t = empty;
        live.shift();
      } else {
        lot.left -= ((next - t) * used) / period;
        t = next;
      }
    }
    return { kind: "until", used, until: Number(t) };
  }

  function showRunway(now) {
    const element = $("runway");
    const result = runway(view.balance, view.entries, now);
    const perDay = short(decimal(result.used / BigInt(RATE_DAYS)));
    element.dataset.kind = result.kind;
    element.dataset.now = String(now);
    element.dataset.until = result.until === undefined ? "" : String(result.until);
    element.dataset.used = decimal(result.used);
    element.classList.toggle("overage", result.kind === "overage");
    if (result.kind === "none") {
      element.textContent = "No credits have been granted to this account yet.";
    } else if (result.kind === "overage") {
      element.textContent = `Already in overage: ${short(view.balance.overage)} credits used ` +
        "beyond the grants. The next grant pays it off first.";
    } else if (result.kind === "idle") {
      element.textContent = "No recent usage: nothing was used in the last 30 days, so the " +
        "credits are not running down.";
    } else if (result.kind === "spent") {
      element.textContent = `No credits are available: ${short(view.balance.held)} are held ` +
        "for work under way.";
    } else if (result.until - now > CENTURY_MS) {
      // a trickle of usage can put the end past what a Date can show (about 275,000 years)
      element.textContent = `At the last 30 days' rate (${perDay} credits a day), the credits ` +
        "last more than a hundred years.";
    } else {
      element.textContent = `At the last 30 days' rate (${perDay} credits a day), the credits ` +
        `last until about ${dateIn(zone(), result.until)}.`;
    }
  }

  // ---- Drawing ---------------------------------------------------------------------------

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function figure(id, text) {
    const element = $(id);
    element.textContent = short(text);
    element.dataset.value = text;
    element.title = `${window.creditmeter.exact(text)} credits`;
    element.classList.toggle("negative", micro(text) < 0n);
  }

  function drawFigures() {
    const b = view.balance;
    figure("credits-balance", b.balance);
    figure("credits-held", b.held);
    figure("credits-available", b.available);
    $("credits-overage").textContent = micro(b.overage) > 0n
      ? `${short(b.overage)} credits in overage` : `as of entry ${b.seq}`;
  }

  function drawGrants() {
    const exact = window.creditmeter.exact;
    $("grants").tBodies[0].replaceChildren(...view.balance.grants.map((g) => {
      const tr = document.createElement("tr");
      tr.dataset.id = g.id;
      if (g.status !== "active") tr.className = "ended";
      const name = cell("th", g.id);
      name.scope = "row";
      const expires = g.expires_at === null ? "never"
        : dateIn(zone(), Number(g.expires_at), true);
      tr.append(name, cell("td", g.kind), cell("td", exact(g.credits)),
        cell("td", exact(g.remaining), micro(g.remaining) ? "" : "zero"),
        cell("td", g.status), cell("td", expires));
      return tr;
    }));
  }

  // The balance over the range: where it stood at the range's start, after each entry in the
  // range (balance_after by time), and where it stands at the range's end (or now).
  function points(now) {
    const start = Number(view.params.start_time);
    const end = Math.min(Number(view.params.end_time), now);
    let before = "0";
    const inRange = [];
    for (const entry of view.entries) {
      const time = Number(entry.time);
      if (time <= start) before = entry.balance_after;
      else if (time <= end) inRange.push({ x: time, y: Number(entry.balance_after),
        text: entry.balance_after, seq: Number(entry.seq) });
    }
    const last = inRange.length ? inRange[inRange.length - 1].text : before;
    return [{ x: start, y: Number(before), text: before, seq: null }, ...inRange,
      { x: end, y: Number(last), text: last, seq: null }];
  }

  // Ticks on the range's days (its start is a local midnight), at most about eight.
  function dayTicks(scale) {
    const days = Math.max(1, Math.round((scale.max - scale.min) / DAY_MS));
    const step = [1, 2, 7, 14, 28].find((n) => days / n <= 8) || Math.ceil(days / 8);
    const ticks = [];
    for (let t = scale.min; t <= scale.max; t += step * DAY_MS) ticks.push({ value: t });
    scale.ticks = ticks;
  }

  function drawChart(now) {
    const data = points(now);
    const zoneName = zone();
    $("balance-empty").hidden = view.entries.length > 0;
    $("balance-chart").setAttribute("aria-label", `Line chart of the balance from ` +
      `${dateIn(zoneName, data[0].x)} to ${dateIn(zoneName, data[data.length - 1].x)}: ` +
      `${short(data[0].text)} at the start, ${short(data[data.length - 1].text)} at the end, ` +
      `${data.length - 2} changes.`);
    const dataset = { label: "Balance", data, stepped: "after", borderColor: "#1d4ed8",
      backgroundColor: "rgba(29, 78, 216, 0.08)", fill: "origin", borderWidth: 2,
      pointRadius: 0, pointHitRadius: 6 };
    if (view.chart) {
      view.chart.data.datasets = [dataset];
      view.chart.options.scales.x.min = data[0].x;
      view.chart.options.scales.x.max = data[data.length - 1].x;
      view.chart.update();
      return;
    }
    view.chart = new window.Chart($("balance-chart"), {
      type: "line",
      data: { datasets: [dataset] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        normalized: true, interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "linear", min: data[0].x, max: data[data.length - 1].x,
            grid: { display: false }, afterBuildTicks: dayTicks,
            ticks: { color: "#4b5563", maxRotation: 0, autoSkipPadding: 16,
              callback: (value) => dateIn(zone(), value).replace(/,? \d{4}$/, "") } },
          y: { beginAtZero: true, grid: { color: "#eef1f5" }, border: { display: false },
            title: { display: true, text: "Credits", color: "#4b5563" },
            ticks: { color: "#4b5563",
              callback: (value) => new Intl.NumberFormat(undefined,
                { notation: "compact" }).format(value) } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            backgroundColor: "#0f172a", padding: 10,
            callbacks: {
              title: (items) => (items.length ? dateIn(zone(), items[0].raw.x, true) : ""),
              label: (item) => ` Balance: ${window.creditmeter.exact(item.raw.text)} credits`,
            },
          },
        },
      },
    });
  }

  function render() {
    const now = Date.now();
    const account = window.creditmeter.account();
    $("credits-scope").textContent = account && account.bot_id
      ? `The credits of the whole account, which all its bots share (this key sees bot ` +
        `${account.bot_id}'s usage only): its balance, its grants and the balance over the ` +
        "range, from its journal."
      : "What the account has left: its balance, its grants and the balance over the range, " +
        "from its journal.";
    $("credits").classList.remove("failed");
    $("credits-problem").hidden = true;
    drawFigures();
    showRunway(now);
    drawGrants();
    drawChart(now);
    view.loads += 1;
    $("credits").dataset.loaded = String(view.loads);
  }

  // ---- Loading ---------------------------------------------------------------------------

  function nextPage(response) {
    const match = /<([^>]+)>\s*;\s*rel="next"/.exec(response.headers.get("Link") || "");
    return match && match[1].startsWith(`${ENTRIES}?`) ? match[1] : null;
  }

  async function fetchAll() {
    const meter = window.creditmeter;
    const answer = await meter.api("/v1/account/credits/balance");
    const balance = meter.parseExact(await answer.text());
    const entries = [];
    let next = `${ENTRIES}?after_seq=0&limit=${PAGE}`;
    while (next) {
      const response = await meter.api(next);
      entries.push(...meter.parseExact(await response.text()));
      next = nextPage(response);
    }
    return { balance, entries };
  }

  function problem(error) {
    const id = error.requestId ? ` (request id ${error.requestId})` : "";
    if (error.status === 0) return "The service did not answer. Check your connection.";
    if (error.status === 401) return "This key is no longer accepted.";
    if (error.status === 429) return "Too many requests with this key right now.";
    if (error.status === 503) return "The service is briefly unavailable.";
    if (error.status >= 500) return `The service had an unexpected problem${id}.`;
    return `The service refused the request: ${error.message}.`;
  }

  async function load() {
    if (!view.params) return; // the range comes with the first creditmeter:view
    const key = sessionStorage.getItem("creditmeter.key");
    const loading = {};
    view.loading = loading;
    $("credits").setAttribute("aria-busy", "true");
    let found;
    try {
      found = await fetchAll();
    } catch (error) {
      if (view.loading !== loading) return;
      view.balance = null;
      window.dispatchEvent(new CustomEvent("creditmeter:credits", { detail: null }));
      $("credits").classList.add("failed");
      $("credits").setAttribute("aria-busy", "false");
      $("credits-problem-text").textContent = `The credits could not be loaded. ${problem(error)}`;
      $("credits-problem").hidden = false;
      $("credits").dataset.failed = String(error.status);
      return;
    }
    if (view.loading !== loading) return;
    $("credits").setAttribute("aria-busy", "false");
    Object.assign(view, found, { key, fetched: Date.now() });
    render();
    // for what else shows the balance (static/alerts.js): the balance as the API wrote it
    window.dispatchEvent(new CustomEvent("creditmeter:credits", { detail: found.balance }));
  }

  window.addEventListener("creditmeter:view", (event) => {
    view.params = event.detail;
    const key = sessionStorage.getItem("creditmeter.key");
    if (!view.balance || key !== view.key || Date.now() - view.fetched > STALE_MS) load();
    else render(); // the same journal, over the new range
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("credits-refresh").addEventListener("click", load);
    $("credits-retry").addEventListener("click", load);
  });
})();
