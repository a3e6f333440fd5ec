// The umd dashboard: reads the node's REST API (the proto3 JSON of the
// um.training.v1 and um.dataset.v1 queries: snake_case fields, 64-bit
// integers as strings) every few seconds and redraws.
//
// What is checkable from outside (interop/dashboard.mjs reads it): each
// model's chart carries data-model and data-points (versions on the x axis)
// and data-measured (versions with a measured validation loss); each version
// table carries data-rows; #status carries data-refreshes, data-ok and
// data-busy (true while a refresh is under way: wait for false to read a
// whole refresh).
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const PAGE_LIMIT = 1000; // the server's maximum page
  const MAX_PAGES = 50; // 50,000 versions: far beyond what a page should draw
  const MAX_TABLE_ROWS = 500; // newest first; the chart still has every version
  const MAX_VERDICT_FETCHES = 25; // per refresh, so a long history fills in gradually

  const models = new Map(); // model_id -> {section, chart, plot, table, ...}
  const datasets = new Map(); // dataset_id -> {section, table, ...}
  // Verdicts of decided updates never change, so each is fetched once.
  const verdictCache = new Map(); // update id -> {accepts, rejects, reasons}
  let refreshes = 0;

  // --- fetching -------------------------------------------------------------

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store", headers: { accept: "application/json" } });
    if (!response.ok) {
      let detail = "";
      try {
        const body = await response.json();
        detail = body.message || JSON.stringify(body);
      } catch (_) {
        detail = response.statusText;
      }
      throw new Error(`${path}: HTTP ${response.status} ${detail}`);
    }
    return response.json();
  }

  // Every item of a paged list, following pagination.next_key.
  async function getAll(path, field) {
    let items = [];
    let key = "";
    for (let page = 0; page < MAX_PAGES; page++) {
      const sep = path.includes("?") ? "&" : "?";
      let url = `${path}${sep}pagination.limit=${PAGE_LIMIT}`;
      if (key) {
        url += `&pagination.key=${encodeURIComponent(key)}`;
      }
      const body = await getJson(url);
      items = items.concat(body[field] || []);
      key = (body.pagination && body.pagination.next_key) || "";
      if (!key) {
        break;
      }
    }
    return items;
  }

  async function verdictsOf(updateId) {
    if (verdictCache.has(updateId)) {
      return verdictCache.get(updateId);
    }
    const body = await getJson(`/um/training/v1/updates/${encodeURIComponent(updateId)}`);
    const verdicts = body.verdicts || [];
    const summary = {
      accepts: verdicts.filter((v) => v.accept).length,
      rejects: verdicts.filter((v) => !v.accept).length,
      reasons: verdicts.map((v) => v.reason).filter((r) => r && r !== "VERDICT_REASON_OK"),
    };
    const status = body.update && body.update.status;
    if (status && status !== "UPDATE_STATUS_PENDING") {
      verdictCache.set(updateId, summary);
    }
    return summary;
  }

  // --- formatting -----------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") {
        node.textContent = v;
      } else if (k === "class") {
        node.className = v;
      } else {
        node.setAttribute(k, v);
      }
    }
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  function fixed(x, digits) {
    return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "—";
  }

  function percent(x) {
    return typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : "—";
  }

  function shortAddress(address) {
    return address && address.length > 16 ? `${address.slice(0, 9)}…${address.slice(-6)}` : address || "—";
  }

  function base64ToHex(b64) {
    try {
      const bytes = atob(b64 || "");
      let hex = "";
      for (let i = 0; i < bytes.length; i++) {
        hex += bytes.charCodeAt(i).toString(16).padStart(2, "0");
      }
      return hex;
    } catch (_) {
      return "";
    }
  }

  // Version 0 is the lineage's initial weights: nobody measured them.
  function measured(version, value) {
    return version.version === "0" || typeof value !== "number" ? null : value;
  }

  // --- models ---------------------------------------------------------------

  function modelView(lineage) {
    const id = lineage.model_id;
    if (models.has(id)) {
      return models.get(id);
    }
    const title = el("h3", { text: id });
    const summary = el("p", { class: "summary" });
    const chart = el("div", { class: "chart", "data-model": id, "data-points": "0", "data-measured": "0" });
    const tbody = el("tbody");
    const table = el("table", { class: "versions", "data-model": id, "data-rows": "0" }, [
      el("thead", {}, [
        el("tr", {}, [
          "version", "parent", "trainer", "height", "validation loss", "accuracy",
          "train loss (claimed)", "verdicts ✓/✗", "power accept/total", "dataset", "weights",
        ].map((h) => el("th", { text: h }))),
      ]),
      tbody,
    ]);
    const section = el("article", { class: "model", "data-model": id }, [
      title, summary, chart,
      el("details", { open: "" }, [el("summary", { text: "versions" }), table]),
    ]);
    document.getElementById("models").append(section);
    const view = { id, section, summary, chart, table, tbody, plot: null };
    models.set(id, view);
    return view;
  }

  function chartOptions(width) {
    return {
      width,
      height: 280,
      scales: { x: { time: false }, loss: { auto: true }, acc: { range: [0, 1] } },
      axes: [
        // Versions are whole numbers: no ticks between them.
        { label: "version", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], values: (u, ticks) => ticks.map((t) => String(t)) },
        { scale: "loss", label: "loss" },
        { scale: "acc", side: 1, label: "accuracy", grid: { show: false }, values: (u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
      ],
      series: [
        { label: "version" },
        { label: "validation loss", scale: "loss", stroke: "#c0392b", width: 2, points: { show: true, size: 6 } },
        { label: "validation accuracy", scale: "acc", stroke: "#2471a3", width: 2, points: { show: true, size: 6 }, value: (u, v) => (v == null ? "—" : `${(v * 100).toFixed(2)}%`) },
        { label: "train loss (claimed)", scale: "loss", stroke: "#e67e22", width: 1, dash: [5, 5], points: { show: false } },
      ],
    };
  }

  function drawChart(view, ascending) {
    const data = [
      ascending.map((v) => Number(v.version)),
      ascending.map((v) => measured(v, v.validation_loss)),
      ascending.map((v) => measured(v, v.validation_accuracy)),
      ascending.map((v) => measured(v, v.train_loss)),
    ];
    const width = Math.max(320, view.chart.clientWidth || 800);
    if (view.plot === null) {
      view.plot = new uPlot(chartOptions(width), data, view.chart);
    } else {
      view.plot.setData(data);
    }
    view.chart.setAttribute("data-points", String(data[0].length));
    view.chart.setAttribute("data-measured", String(data[1].filter((x) => x !== null).length));
  }

  // Verdicts of the newest versions' updates, fetching a bounded number of
  // not yet cached ones per refresh.
  async function fetchVerdicts(newest) {
    let fetches = 0;
    const verdicts = new Map();
    for (const v of newest) {
      for (const id of v.update_ids || []) {
        if (verdictCache.has(id)) {
          verdicts.set(id, verdictCache.get(id));
        } else if (fetches < MAX_VERDICT_FETCHES) {
          fetches++;
          try {
            verdicts.set(id, await verdictsOf(id));
          } catch (_) {
            // Shown as unknown; the next refresh tries again.
          }
        }
      }
    }
    return verdicts;
  }

  function drawTable(view, lineage, ascending, newest, verdicts) {
    const rows = newest.map((v) => {
      const ids = v.update_ids || [];
      let verdictText = v.version === "0" ? "initial" : "…";
      let verdictTitle = ids.length ? `update ${ids.join(", ")}` : "";
      if (ids.length && ids.every((id) => verdicts.has(id))) {
        const accepts = ids.reduce((n, id) => n + verdicts.get(id).accepts, 0);
        const rejects = ids.reduce((n, id) => n + verdicts.get(id).rejects, 0);
        const reasons = ids.flatMap((id) => verdicts.get(id).reasons);
        verdictText = `${accepts} / ${rejects}`;
        if (reasons.length) {
          verdictTitle += `; rejections: ${reasons.join(", ")}`;
        }
      }
      const weightsPath = `/um/training/v1/models/${encodeURIComponent(lineage.model_id)}/versions/${encodeURIComponent(v.version)}/weights`;
      return el("tr", { "data-version": v.version }, [
        el("td", { text: v.version }),
        el("td", { text: v.version === "0" ? "—" : v.parent_version }),
        el("td", { text: shortAddress(v.trainer), title: v.trainer || "" }),
        el("td", { text: v.height }),
        el("td", { text: fixed(measured(v, v.validation_loss), 4) }),
        el("td", { text: percent(measured(v, v.validation_accuracy)) }),
        el("td", { text: fixed(measured(v, v.train_loss), 4) }),
        el("td", { text: verdictText, title: verdictTitle }),
        el("td", { text: v.version === "0" ? "—" : `${v.accept_power} / ${v.total_power}` }),
        el("td", { text: v.dataset_version }),
        el("td", {}, [el("a", { href: weightsPath, text: `${Math.round(Number(v.weights_size) / 1024)} KiB`, title: base64ToHex(v.weights_sha256) })]),
      ]);
    });
    view.tbody.replaceChildren(...rows);
    view.table.setAttribute("data-rows", String(rows.length));
    view.table.setAttribute("data-versions", String(ascending.length));
  }

  function drawSummary(view, lineage, ascending) {
    const head = ascending[ascending.length - 1];
    const hp = lineage.hyperparams || {};
    view.summary.textContent =
      `head v${lineage.head_version} (height ${head ? head.height : "—"}) · ` +
      `validation accuracy ${percent(head ? measured(head, head.validation_accuracy) : null)} · ` +
      `dataset ${lineage.dataset_id} · lr ${hp.learning_rate}, batch ${hp.batch_size}, ` +
      `${hp.local_steps} steps per update · ${ascending.length} versions`;
  }

  async function refreshModels() {
    const lineages = await getAll("/um/training/v1/models", "lineages");
    document.getElementById("models-empty").hidden = lineages.length > 0;
    let top = 0;
    for (const lineage of lineages) {
      const view = modelView(lineage);
      const versions = await getAll(
        `/um/training/v1/models/${encodeURIComponent(lineage.model_id)}/versions`,
        "versions",
      );
      // The API lists newest first; the chart runs left to right.
      const ascending = versions.slice().sort((a, b) => Number(a.version) - Number(b.version));
      const newest = ascending.slice().reverse().slice(0, MAX_TABLE_ROWS);
      const verdicts = await fetchVerdicts(newest);
      // Chart, summary and table change together, in one task, so the page
      // never shows a chart and a table of different refreshes.
      drawChart(view, ascending);
      drawSummary(view, lineage, ascending);
      drawTable(view, lineage, ascending, newest, verdicts);
      for (const v of ascending) {
        top = Math.max(top, Number(v.height));
      }
    }
    return top;
  }

  // --- datasets -------------------------------------------------------------

  function datasetView(dataset) {
    const id = dataset.dataset_id;
    if (datasets.has(id)) {
      return datasets.get(id);
    }
    const summary = el("p", { class: "summary" });
    const tbody = el("tbody");
    const table = el("table", { class: "dataset-versions", "data-dataset": id, "data-rows": "0" }, [
      el("thead", {}, [
        el("tr", {}, ["version", "records", "train", "validation", "height", "delta", "root"].map((h) => el("th", { text: h }))),
      ]),
      tbody,
    ]);
    const section = el("article", { class: "dataset", "data-dataset": id }, [el("h3", { text: id }), summary, table]);
    document.getElementById("datasets").append(section);
    const view = { id, summary, table, tbody };
    datasets.set(id, view);
    return view;
  }

  async function refreshDatasets() {
    const latest = await getAll("/um/dataset/v1/datasets", "datasets");
    document.getElementById("datasets-empty").hidden = latest.length > 0;
    for (const dataset of latest) {
      const view = datasetView(dataset);
      const versions = await getAll(
        `/um/dataset/v1/datasets/${encodeURIComponent(dataset.dataset_id)}/versions`,
        "versions",
      );
      view.summary.textContent =
        `v${dataset.version}: ${dataset.record_count} records ` +
        `(${dataset.train_count} train, ${dataset.validation_count} validation), ` +
        `${dataset.image_rows}×${dataset.image_cols} images, ${dataset.num_classes} classes`;
      const rows = versions.map((d) => {
        const root = base64ToHex(d.root);
        return el("tr", { "data-version": d.version }, [
          el("td", { text: d.version }),
          el("td", { text: d.record_count }),
          el("td", { text: d.train_count }),
          el("td", { text: d.validation_count }),
          el("td", { text: d.height }),
          el("td", { text: d.delta_id === "0" ? "genesis" : d.delta_id }),
          el("td", { class: "hash", text: root.slice(0, 16) + "…", title: root }),
        ]);
      });
      view.tbody.replaceChildren(...rows);
      view.table.setAttribute("data-rows", String(rows.length));
    }
  }

  // --- the loop -------------------------------------------------------------

  async function refresh() {
    const status = document.getElementById("status");
    status.setAttribute("data-busy", "true");
    try {
      const height = await refreshModels();
      await refreshDatasets();
      refreshes++;
      status.className = "status";
      status.setAttribute("data-ok", "true");
      status.textContent =
        `newest version at height ${height || "—"} · updated ${new Date().toLocaleTimeString()} · ` +
        `refreshes every ${REFRESH_MS / 1000} s`;
    } catch (error) {
      // Keep what is drawn; say what failed and try again.
      status.className = "status error";
      status.setAttribute("data-ok", "false");
      status.textContent = `could not refresh: ${error.message}`;
    }
    status.setAttribute("data-refreshes", String(refreshes));
    status.setAttribute("data-busy", "false");
    setTimeout(refresh, REFRESH_MS);
  }

  window.addEventListener("resize", () => {
    for (const view of models.values()) {
      if (view.plot) {
        view.plot.setSize({ width: Math.max(320, view.chart.clientWidth), height: 280 });
      }
    }
  });

  refresh();
})();
