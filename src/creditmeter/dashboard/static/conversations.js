"use strict";
// The Conversations view: the range's most expensive conversations (or runs), paged;
// opening one lists its events in time order. Reads the API through dashboard.js.
(function () {
  const PAGE_SIZE = 10;
  const FIELDS = window.CREDITMETER_LISTS;  // categories.js, written by `make categories`
  const view = { params: null, kind: "conversations", page: 1, total: 0 };
  const $ = (id) => document.getElementById(id);
  // Times are written in the view's chosen zone, as the chart's days are, not the browser's.
  const timeFormats = new Map();
  function timeIn(ms) {
    const zone = (view.params && view.params.timezone) || "UTC";
    if (!timeFormats.has(zone)) {
      timeFormats.set(zone, new Intl.DateTimeFormat(undefined, {
        timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "2-digit",
        minute: "2-digit", second: "2-digit" }));
    }
    return timeFormats.get(zone).format(ms);
  }

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  async function load() {
    if (!view.params || !window.creditmeter) return;
    const meter = window.creditmeter;
    const fields = FIELDS[view.kind];
    const params = { start_time: view.params.start_time, end_time: view.params.end_time,
      kind: view.kind, page: String(view.page), page_size: String(PAGE_SIZE) };
    if (view.params.bot_id) params.bot_id = view.params.bot_id;
    let body;
    try {
      const response = await meter.api("/v1/account/dashboard/conversations", params);
      body = meter.parseExact(await response.text());
    } catch (_error) {
      $("conversations-count").textContent = "The conversations could not be loaded.";
      return;
    }
    view.total = Number(body.total);
    const what = view.kind === "runs" ? "workflow run" : "conversation";
    $("conversations-count").textContent =
      `${body.total} ${what}${view.total === 1 ? "" : "s"} began in this range, most expensive first.`;
    const head = document.createElement("tr");
    head.append(cell("th", view.kind === "runs" ? "Run" : "Conversation"), cell("th", "Bot"),
      cell("th", "Started"), cell("th", "Total", "total"));
    for (const category of fields.categories) head.append(cell("th", category.replaceAll("_", " ")));
    for (const th of head.children) th.scope = "col";
    const table = $("conversation-table");
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(...body.list.map((row) => {
      const tr = document.createElement("tr");
      const name = cell("th", "");
      name.scope = "row";
      const open = cell("button", row[fields.id], "link");
      open.type = "button";
      open.dataset.id = row[fields.id];
      open.addEventListener("click", () => openOne(row[fields.id], row.bot_id));
      name.append(open);
      tr.append(name, cell("td", row.bot_id), cell("td", timeIn(row[fields.time])),
        cell("td", meter.exact(row.total), "total"));
      for (const category of fields.categories) {
        tr.append(cell("td", meter.exact(row[category]), Number(row[category]) ? "" : "zero"));
      }
      return tr;
    }));
    const pages = Math.max(1, Math.ceil(view.total / PAGE_SIZE));
    $("conversations-page").textContent = `Page ${view.page} of ${pages}`;
    $("conversations-prev").disabled = view.page <= 1;
    $("conversations-next").disabled = view.page >= pages;
    $("conversations").dataset.loaded = `${view.kind}:${view.page}:${Date.now()}`;
  }

  async function openOne(id, bot) {
    const meter = window.creditmeter;
    const fields = FIELDS[view.kind];
    const params = { kind: view.kind, bot_id: bot, [fields.id]: id };
    const response = await meter.api("/v1/account/dashboard/conversation-events", params);
    const body = meter.parseExact(await response.text());
    $("conversation-detail-title").textContent =
      `${view.kind === "runs" ? "Run" : "Conversation"} ${id} (${bot}): ${body.list.length} charges`;
    $("conversation-events").tBodies[0].replaceChildren(...body.list.map((event) => {
      const tr = document.createElement("tr");
      tr.dataset.timestamp = String(event.timestamp);
      tr.append(cell("td", timeIn(event.timestamp)), cell("td", event.category),
        cell("td", meter.exact(event.credits)), cell("td", event.id));
      return tr;
    }));
    $("conversation-detail").hidden = false;
  }

  function setKind(kind) {
    view.kind = kind;
    view.page = 1;
    for (const button of document.querySelectorAll("#conversations [data-kind]")) {
      button.setAttribute("aria-pressed", String(button.dataset.kind === kind));
    }
    $("conversation-detail").hidden = true;
    load();
  }

  window.addEventListener("creditmeter:view", (event) => {
    const changed = JSON.stringify(event.detail) !== JSON.stringify(view.params);
    view.params = event.detail;
    if (changed) { view.page = 1; $("conversation-detail").hidden = true; }
    load();
  });
  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("#conversations [data-kind]")) {
      button.addEventListener("click", () => setKind(button.dataset.kind));
    }
    $("conversations-prev").addEventListener("click", () => { view.page -= 1; load(); });
    $("conversations-next").addEventListener("click", () => { view.page += 1; load(); });
  });
})();
