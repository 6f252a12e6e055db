// The shopflow dashboard: reads /v1 of the API it is served by; no other origin, no CDN.
"use strict";
(() => {
  const POLL_MS = 5000;
  const MEASURES = {
    total_orders: { label: "Orders", digits: 0 },
    total_revenue: { label: "Revenue", digits: 2 },
    total_items_sold: { label: "Items sold", digits: 0 },
    avg_order_value: { label: "Average order value", digits: 2 },
    return_rate: { label: "Return rate (%)", digits: 2, points: true },
    unique_customers: { label: "Customers", digits: 0 },
  };
  const $ = (selector) => document.querySelector(selector);
  const state = { day: null, from: null, to: null, categories: [], sort: { key: "daily_revenue", descending: true }, category: null, token: null, plots: {}, followLatest: true };

  const number = (value, digits) =>
    value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (response.status === 404) return null;
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.message || `${path}: HTTP ${response.status}`);
    }
    return response.json();
  }

  function say(text) { $("#status").textContent = text; }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function deltaText(delta, spec, label) {
    if (!delta) return element("div", { class: "delta" }, `${label}: no data`);
    const change = Number(delta.change);
    const sign = change > 0 ? "+" : "";
    const unit = spec.points ? " pts" : "";
    const percent = !spec.points && delta.percent !== null && delta.percent !== undefined ? ` (${sign}${number(delta.percent, 2)}%)` : "";
    const direction = change > 0 ? "up" : change < 0 ? "down" : "";
    return element("div", { class: `delta ${direction}` }, `${label}: ${sign}${number(change, spec.digits)}${unit}${percent}`);
  }

  function showCards(summary) {
    const list = $("#cards");
    list.replaceChildren();
    if (!summary) { $("#cards-date").textContent = `${state.day}: no orders`; return; }
    $("#cards-date").textContent = summary.date;
    for (const card of summary.cards) {
      const spec = MEASURES[card.measure];
      list.append(element("li", { "data-measure": card.measure },
        element("div", { class: "label" }, spec.label),
        element("div", { class: "value" }, number(card.value, spec.digits)),
        deltaText(card.previous_day, spec, "vs day before"),
        deltaText(card.week_before, spec, "vs week before")));
    }
  }

  function seconds(isoDate) { return Date.parse(`${isoDate}T00:00:00Z`) / 1000; }

  function plot(figure, rows, measure) {
    const holder = figure.querySelector(".plot");
    const xs = rows.map((row) => seconds(row.order_date));
    const ys = rows.map((row) => Number(row[measure]));
    figure.dataset.dates = JSON.stringify(rows.map((row) => row.order_date));
    figure.dataset.values = JSON.stringify(rows.map((row) => row[measure]));
    figure.setAttribute("role", "img");
    figure.setAttribute("aria-label", `${figure.querySelector("figcaption").textContent}: ${rows.length} days` +
      (rows.length ? `, from ${rows[0].order_date} to ${rows[rows.length - 1].order_date}` : ""));
    const key = figure.id;
    if (state.plots[key]) { state.plots[key].destroy(); delete state.plots[key]; }
    holder.replaceChildren();
    if (!rows.length) { holder.append(element("p", {}, "No days with orders in the range.")); return; }
    const width = Math.max(300, holder.clientWidth || figure.clientWidth - 16 || 400);
    state.plots[key] = new uPlot({
      width, height: 200, legend: { show: true },
      scales: { x: { time: true } },
      series: [{}, { label: figure.querySelector("figcaption").textContent, stroke: "#0b4f9c", width: 2, points: { show: rows.length < 60 } }],
      axes: [{ stroke: "#4a5360" }, { stroke: "#4a5360", size: 70 }],
    }, [xs, ys], holder);
  }

  async function allDays() {
    let url = `/v1/days?from=${state.from}&to=${state.to}`;
    const rows = [];
    while (url) {
      const page = await getJson(url);
      if (!page) break;
      rows.push(...page.items);
      url = page.next ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search : null;
    }
    return rows;
  }

  async function showCharts() {
    $("#range-label").textContent = `${state.from} to ${state.to}`;
    const rows = await allDays();
    for (const figure of document.querySelectorAll(".charts figure.chart")) plot(figure, rows, figure.dataset.measure);
  }

  function sortedCategories() {
    const { key, descending } = state.sort;
    const rows = [...state.categories];
    rows.sort((a, b) => {
      const order = key === "category" ? a.category.localeCompare(b.category) : Number(a[key]) - Number(b[key]);
      return descending ? -order : order;
    });
    return rows;
  }

  function showCategories() {
    const body = $("#categories tbody");
    body.replaceChildren();
    for (const header of document.querySelectorAll("#categories th")) {
      const button = header.querySelector("button");
      header.setAttribute("aria-sort", button.dataset.sort === state.sort.key ? (state.sort.descending ? "descending" : "ascending") : "none");
    }
    for (const row of sortedCategories()) {
      const choose = element("button", { type: "button", "data-category": row.category, "aria-pressed": String(row.category === state.category) }, row.category);
      choose.addEventListener("click", () => chooseCategory(row.category));
      body.append(element("tr", { class: row.category === state.category ? "selected" : null },
        element("th", { scope: "row" }, choose),
        element("td", { class: "num" }, number(row.daily_revenue, 2)),
        element("td", { class: "num" }, number(row.avg_order_value, 2)),
        element("td", { class: "num" }, number(row.avg_return_rate, 2))));
    }
  }

  async function chooseCategory(category) {
    state.category = category;
    showCategories();
    const figure = $("#chart-category");
    $("#category-name").textContent = category;
    figure.hidden = false;
    const rows = [];
    let url = `/v1/categories/${encodeURIComponent(category)}?from=${state.from}&to=${state.to}`;
    while (url) {
      const page = await getJson(url);
      if (!page) break;
      rows.push(...page.items);
      url = page.next ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search : null;
    }
    plot(figure, rows, "daily_revenue");
  }

  async function showCategoriesOfDay() {
    $("#categories-date").textContent = state.day;
    const body = await getJson(`/v1/categories?date=${state.day}`);
    state.categories = body ? body.items : [];
    showCategories();
    if (state.category) await chooseCategory(state.category);
  }

  function showRuns(runs) {
    const body = $("#runs tbody");
    body.replaceChildren();
    const rejects = {};
    const quarantined = $("#quarantined");
    quarantined.replaceChildren();
    for (const run of runs) {
      const totals = run.totals || {};
      const started = run.started_at.replace("T", " ").slice(0, 19);
      body.append(element("tr", { "data-run": run.run_id },
        element("td", {}, started),
        element("td", { class: `status-${run.status}` }, run.status),
        element("td", { class: "num" }, run.duration_seconds === null ? "–" : number(run.duration_seconds, 1)),
        element("td", {}, run.status === "RUNNING" ? run.stage || "–" : run.failure ? `${run.failure.error}: ${run.failure.reason || ""}` : "–"),
        ...["rows_in", "accepted", "rejected", "duplicates", "pending"].map((name) => element("td", { class: "num" }, number(totals[name], 0))),
        element("td", {}, run.run_id)));
      for (const [rule, count] of Object.entries(run.rejects_by_rule || {})) rejects[rule] = (rejects[rule] || 0) + count;
      for (const file of run.quarantined || []) quarantined.append(element("li", {}, `${file.source_key} (${file.kind}, run ${run.run_id}): ${file.reason || "quarantined"}`));
    }
    if (!runs.length) body.append(element("tr", {}, element("td", { colspan: "10" }, "No runs yet.")));
    if (!quarantined.children.length) quarantined.append(element("li", {}, "None."));
    const rejectsBody = $("#rejects tbody");
    rejectsBody.replaceChildren();
    const ranked = Object.entries(rejects).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    for (const [rule, count] of ranked) rejectsBody.append(element("tr", {}, element("td", {}, rule), element("td", { class: "num" }, number(count, 0))));
    if (!ranked.length) rejectsBody.append(element("tr", {}, element("td", { colspan: "2" }, "None.")));
  }

  function isoDaysBefore(isoDate, days) {
    return new Date((seconds(isoDate) - days * 86400) * 1000).toISOString().slice(0, 10);
  }

  async function refresh() {
    document.body.dataset.ready = "false";
    say("Loading…");
    try {
      const summary = await getJson(state.day ? `/v1/summary?date=${state.day}` : "/v1/summary");
      if (!state.day) {
        if (!summary) { say("No KPIs yet: upload files and wait for a run."); showRuns((await getJson("/v1/runs?limit=20")).items); return; }
        state.day = summary.date;
        state.to = state.to || summary.date;
        state.from = state.from || isoDaysBefore(summary.date, 29);
        $("#day").value = state.day; $("#from").value = state.from; $("#to").value = state.to;
      }
      showCards(summary);
      await showCharts();
      await showCategoriesOfDay();
      showRuns((await getJson("/v1/runs?limit=20")).items);
      say(`Updated ${new Date().toISOString().slice(11, 19)} UTC`);
      document.body.dataset.ready = "true";
    } catch (problem) {
      say(`Could not load: ${problem.message}`);
    }
  }

  async function poll() {
    try {
      const changes = await getJson("/v1/changes");
      if (changes && state.token !== null && changes.token !== state.token) {
        state.token = changes.token;
        // Until someone picks a day or range, the page follows the newest day.
        if (state.followLatest) { state.day = null; state.from = null; state.to = null; }
        await refresh();
      } else if (changes) {
        state.token = changes.token;
      }
    } catch (problem) {
      say(`Could not check for new runs: ${problem.message}`);
    }
  }

  $("#controls").addEventListener("submit", (event) => {
    event.preventDefault();
    const day = $("#day").value, from = $("#from").value, to = $("#to").value;
    if (from && to && from > to) { say("From must not be after To."); $("#from").focus(); return; }
    state.day = day || state.day; state.from = from || state.from; state.to = to || state.to;
    state.followLatest = false;
    refresh();
  });
  for (const button of document.querySelectorAll("#categories th button")) {
    button.addEventListener("click", () => {
      const key = button.dataset.sort;
      state.sort = { key, descending: state.sort.key === key ? !state.sort.descending : key !== "category" };
      showCategories();
    });
  }
  refresh().then(poll);
  setInterval(poll, POLL_MS);
})();
