"use strict";
// Balance alerts on the dashboard: the account's low-balance threshold, and a banner while
// the balance is below it (or at 0 and below), from the balance static/credits.js reads.
(function () {
  const $ = (id) => document.getElementById(id);
  const MICRO = 1000000n;

  // An exact decimal's text ("12.5", "-2", "0.000001") as micro-credits, never a float.
  function micro(text) {
    const match = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(String(text));
    if (!match) return null;
    const value = BigInt(match[2]) * MICRO + BigInt((match[3] || "").padEnd(6, "0"));
    return match[1] ? -value : value;
  }

  function box() {
    let element = $("balance-alert");
    if (!element) {
      element = document.createElement("section");
      element.id = "balance-alert";
      element.className = "card balance-alert";
      element.setAttribute("aria-live", "polite");
      $("alerts").append(element);
    }
    return element;
  }

  function show(balance) {
    const element = box();
    element.replaceChildren();
    const threshold = balance.low_balance_threshold;
    const have = micro(balance.balance);
    const below = threshold !== null && threshold !== undefined;
    const low = below && have !== null && have < micro(threshold);
    const out = have !== null && have <= 0n;
    const line = document.createElement("p");
    line.className = "balance-line";
    line.append("Credit balance ");
    const figure = document.createElement("strong");
    figure.id = "balance-figure";
    figure.textContent = balance.balance;
    line.append(figure);
    const note = document.createElement("span");
    note.id = "threshold-note";
    note.className = "muted";
    note.textContent = below
      ? ` · low-balance alert below ${threshold} credits`
      : " · no low-balance threshold set";
    line.append(note);
    element.append(line);
    if (low || out) {
      const banner = document.createElement("div");
      banner.id = "balance-banner";
      banner.className = "alert warn";
      banner.setAttribute("role", "alert");
      banner.textContent = out
        ? `Your credits have run out: the balance is ${balance.balance}. Usage goes on as overage until credits are added.`
        : `Your balance (${balance.balance} credits) is below its low-balance threshold (${threshold} credits).`;
      element.append(banner);
    }
    element.hidden = false;
    element.dataset.low = String(low || out);
  }

  // static/credits.js reads the balance with every view it draws and hands it on: null when
  // it could not (the board shows the API's problems itself)
  window.addEventListener("creditmeter:credits", (event) => {
    if (event.detail) show(event.detail);
    else if ($("balance-alert")) $("balance-alert").hidden = true;
  });
})();
