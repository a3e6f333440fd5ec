// The umd dashboard: reads the node's REST API (the proto3 JSON of the
// um.training.v1 and um.dataset.v1 queries: snake_case fields, 64-bit
// integers as strings) every few seconds and redraws.
//
// What is checkable from outside (interop/dashboard.mjs reads it): each
// model's chart carries data-model and data-points (versions on the x axis)
// and data-measured (versions with a measured validation loss); each version
// table carries data-rows; #status carries data-refreshes, data-ok and
// data-busy (true while a refresh is under way: wait for false to read a
// whole refresh). A lineage in round mode (`rounds` set) also has a
// div.rounds panel (data-model, data-current, data-status, data-closed): its
// current round and contributors (table.round-contributors) and its last
// closed rounds (table.rounds-closed), each table with data-rows. The panel
// is drawn by two pure functions, window.umDashboard.roundsModel (round
// records to display values) and .renderRounds (those to a detached
// element), which interop/dashboard.mjs checks on a fixture. Each lineage
// also gets a panel to use its head (use.js): a drawing pad or a sample.
// The karma leaderboard is table#leaderboard (data-rows; a row per address
// with data-address and data-score, highest first).
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const PAGE_LIMIT = 1000; // the server's maximum page
  const MAX_PAGES = 50; // 50,000 versions: far beyond what a page should draw
  const MAX_TABLE_ROWS = 500; // newest first; the chart still has every version
  const MAX_VERDICT_FETCHES = 25; // per refresh, so a long history fills in gradually
  const MAX_CLOSED_ROUNDS = 10; // closed rounds shown per lineage, newest first
  // Per lineage and refresh, besides its current round: past rounds (closed
  // ones never change, so each is fetched once) and contributions (the
  // current round's first; decided ones are fetched once).
  const MAX_ROUND_FETCHES = 10;
  const MAX_CONTRIBUTION_FETCHES = 25;

  const models = new Map(); // model_id -> {section, chart, plot, table, ...}
  const datasets = new Map(); // dataset_id -> {section, table, ...}
  // Decided updates never change (nor do their verdicts), so each is
  // fetched once; a pending or verified one again on each refresh.
  const updateCache = new Map(); // update id -> see summarizeUpdate
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
      const error = new Error(`${path}: HTTP ${response.status} ${detail}`);
      error.status = response.status;
      throw error;
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

  // What the page shows of an update: its verdicts (the version table) and
  // who made it and where it stands (the rounds panel).
  function summarizeUpdate(body) {
    const update = body.update || {};
    const verdicts = body.verdicts || [];
    return {
      accepts: verdicts.filter((v) => v.accept).length,
      rejects: verdicts.filter((v) => !v.accept).length,
      reasons: verdicts.map((v) => v.reason).filter((r) => r && r !== "VERDICT_REASON_OK"),
      trainer: update.trainer || "",
      status: update.status || "",
      reason: update.reason || "",
      kind: update.kind || "",
      shard: update.shard,
    };
  }

  // A verified contribution still becomes accepted or rejected.
  function decided(status) {
    return Boolean(status) && status !== "UPDATE_STATUS_PENDING" && status !== "UPDATE_STATUS_VERIFIED";
  }

  async function updateOf(updateId) {
    if (updateCache.has(updateId)) {
      return updateCache.get(updateId);
    }
    const summary = summarizeUpdate(await getJson(`/um/training/v1/updates/${encodeURIComponent(updateId)}`));
    if (decided(summary.status)) {
      updateCache.set(updateId, summary);
    }
    return summary;
  }

  // --- formatting -----------------------------------------------------------

  const { el } = window.umDom;

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
    const details = el("details", { open: "" }, [el("summary", { text: "versions" }), table]);
    const section = el("article", { class: "model", "data-model": id }, [title, summary, chart, details]);
    document.getElementById("models").append(section);
    // rounds: the rounds panel (round mode only); closedRounds: number ->
    // closed Round, the ones the panel shows.
    const view = { id, section, summary, chart, table, tbody, details, plot: null, rounds: null, current: null, closedRounds: new Map() };
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
        if (updateCache.has(id)) {
          verdicts.set(id, updateCache.get(id));
        } else if (fetches < MAX_VERDICT_FETCHES) {
          fetches++;
          try {
            verdicts.set(id, await updateOf(id));
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

  // --- rounds ---------------------------------------------------------------

  // "ROUND_STATUS_EVALUATING" -> "evaluating"; "BEST_CONTRIBUTION" -> "best contribution".
  function label(code, prefix) {
    if (!code) {
      return "";
    }
    const bare = prefix && code.startsWith(prefix) ? code.slice(prefix.length) : code;
    return bare.toLowerCase().replace(/_/g, " ");
  }

  function nonzero(x) {
    return x !== undefined && x !== null && String(x) !== "0" && String(x) !== "" ? String(x) : null;
  }

  // Numbers (strings, as the API spells u64) of the rounds before `current`
  // that the panel shows, newest first: with the current one, at most
  // MAX_CLOSED_ROUNDS closed rounds.
  function pastRoundNumbers(current) {
    const numbers = [];
    if (!current) {
      return numbers;
    }
    const wanted = MAX_CLOSED_ROUNDS - (current.status === "ROUND_STATUS_CLOSED" ? 1 : 0);
    for (let n = Number(current.number) - 1; n >= 1 && numbers.length < wanted; n--) {
      numbers.push(String(n));
    }
    return numbers;
  }

  // What the rounds panel shows, from the records alone (pure: no fetch, no
  // DOM). lineage: the ModelLineage (its `rounds` are the next round's
  // params); current: the current Round, null when unknown (`note` says
  // why); past: Rounds before it, in any order (only closed ones before the
  // current are shown, newest first, at most MAX_CLOSED_ROUNDS); updates:
  // update id -> summarizeUpdate's object, a Map or a plain object (a
  // missing one shows as not yet known).
  function roundsModel({ lineage, current, past, updates, note }) {
    const find = (id) => (updates instanceof Map ? updates.get(id) : updates && updates[id]) || null;
    const contributors = (round) =>
      (round.contributions || []).map((id, i) => {
        const update = find(id);
        const shard = (round.shards || [])[i];
        return {
          update: String(id),
          shard: shard === undefined || shard === null ? "—" : String(shard),
          trainer: update ? update.trainer : "",
          status: update ? label(update.status, "UPDATE_STATUS_") : "…",
          reason: update ? label(update.reason, "VERDICT_REASON_") : "",
        };
      });
    const params = (lineage && lineage.rounds) || null;
    let currentView = null;
    if (current) {
      const roundParams = current.params || params || {};
      currentView = {
        number: String(current.number),
        status: label(current.status, "ROUND_STATUS_"),
        statusCode: current.status || "",
        baseVersion: String(current.base_version),
        openedHeight: String(current.opened_height),
        closesHeight: String(current.closes_height),
        shardsTaken: (current.contributions || []).length,
        maxShards: Number(roundParams.max_contributions) || 0,
        candidate: nonzero(current.candidate_update_id),
        outcome: label(current.outcome) || null,
        version: nonzero(current.version),
        contributors: contributors(current),
      };
    }
    const closed = new Map();
    const below = current ? Number(current.number) : Infinity;
    for (const round of past || []) {
      if (round && round.status === "ROUND_STATUS_CLOSED" && Number(round.number) < below) {
        closed.set(String(round.number), round);
      }
    }
    if (current && current.status === "ROUND_STATUS_CLOSED") {
      closed.set(String(current.number), current);
    }
    const closedRows = [...closed.values()]
      .sort((a, b) => Number(b.number) - Number(a.number))
      .slice(0, MAX_CLOSED_ROUNDS)
      .map((round) => ({
        number: String(round.number),
        outcome: label(round.outcome) || "—",
        outcomeCode: round.outcome || "",
        version: nonzero(round.version),
        closedHeight: nonzero(round.closed_height),
        contributors: contributors(round),
      }));
    return {
      settings: params
        ? `up to ${params.max_contributions} contributions per round, open for ${params.round_blocks} blocks, ` +
          `outer learning rate ${params.outer_learning_rate}`
        : null,
      current: currentView,
      closed: closedRows,
      note: note || null,
    };
  }

  function contributorTitle(c) {
    return `update ${c.update}, shard ${c.shard}${c.trainer ? `, ${c.trainer}` : ""}: ${c.status}${c.reason ? ` (${c.reason})` : ""}`;
  }

  // roundsModel's values as a detached div.rounds (pure but for creating
  // elements).
  function renderRounds(model, modelId) {
    const current = model.current;
    const panel = el("div", {
      class: "rounds",
      "data-model": modelId || "",
      "data-current": current ? current.number : "",
      "data-status": current ? current.statusCode : "",
      "data-closed": String(model.closed.length),
    }, [el("h4", { text: "Rounds" })]);
    if (model.settings) {
      panel.append(el("p", { class: "summary", text: model.settings }));
    }
    if (model.note) {
      panel.append(el("p", { class: "empty", text: model.note }));
    }
    if (current) {
      const parts = [
        `round ${current.number}`,
        current.status || "—",
        `from version ${current.baseVersion}`,
        `opened at height ${current.openedHeight}`,
        `closes at height ${current.closesHeight}`,
        `shards ${current.shardsTaken} / ${current.maxShards}`,
      ];
      if (current.candidate) {
        parts.push(`candidate: update ${current.candidate}`);
      }
      if (current.outcome) {
        parts.push(current.outcome);
      }
      if (current.version) {
        parts.push(`made version ${current.version}`);
      }
      panel.append(el("p", { class: "round-current", text: parts.join(" · ") }));
      if (current.contributors.length) {
        panel.append(el("table", { class: "round-contributors", "data-rows": String(current.contributors.length) }, [
          el("thead", {}, [el("tr", {}, ["update", "shard", "trainer", "status"].map((h) => el("th", { text: h })))]),
          el("tbody", {}, current.contributors.map((c) =>
            el("tr", { "data-update": c.update }, [
              el("td", { text: c.update }),
              el("td", { text: c.shard }),
              el("td", { text: c.trainer ? shortAddress(c.trainer) : "…", title: c.trainer }),
              el("td", { text: c.reason ? `${c.status} (${c.reason})` : c.status }),
            ]))),
        ]));
      } else {
        panel.append(el("p", { class: "empty", text: "no contributions yet" }));
      }
    }
    if (model.closed.length) {
      panel.append(el("table", { class: "rounds-closed", "data-rows": String(model.closed.length) }, [
        el("thead", {}, [el("tr", {}, ["closed round", "outcome", "version made", "closed at", "contributors"].map((h) => el("th", { text: h })))]),
        el("tbody", {}, model.closed.map((r) =>
          el("tr", { "data-round": r.number, "data-outcome": r.outcomeCode }, [
            el("td", { text: r.number }),
            el("td", { text: r.outcome }),
            el("td", { text: r.version || "—" }),
            el("td", { text: r.closedHeight || "—" }),
            el("td", { title: r.contributors.map(contributorTitle).join("\n") }, [
              r.contributors.length
                ? r.contributors.map((c) => (c.trainer ? shortAddress(c.trainer) : `#${c.update}`)).join(", ")
                : "—",
            ]),
          ]))),
      ]));
    }
    return panel;
  }

  // The current round, the closed ones before it and their contributions,
  // with at most 1 + MAX_ROUND_FETCHES + MAX_CONTRIBUTION_FETCHES requests.
  async function fetchRounds(view, lineage) {
    const base = `/um/training/v1/models/${encodeURIComponent(lineage.model_id)}`;
    let current = null;
    let note = null;
    try {
      current = (await getJson(`${base}/round`)).round || null;
      view.current = current;
    } catch (error) {
      if (error.status === 404) {
        view.current = null;
        note = "no round has opened yet";
      } else {
        // Keep showing the last round read; the next refresh tries again.
        current = view.current;
        note = `could not read the current round: ${error.message}`;
      }
    }
    const numbers = pastRoundNumbers(current);
    const past = [];
    let fetches = 0;
    for (const number of numbers) {
      if (view.closedRounds.has(number)) {
        past.push(view.closedRounds.get(number));
      } else if (fetches < MAX_ROUND_FETCHES) {
        fetches++;
        try {
          const round = (await getJson(`${base}/rounds/${number}`)).round;
          if (round) {
            past.push(round);
            if (round.status === "ROUND_STATUS_CLOSED") {
              view.closedRounds.set(number, round);
            }
          }
        } catch (_) {
          // Left out; the next refresh tries again.
        }
      }
    }
    for (const number of [...view.closedRounds.keys()]) {
      if (!numbers.includes(number)) {
        view.closedRounds.delete(number);
      }
    }
    // The current round's contributions first: they change.
    const updates = new Map();
    let updateFetches = 0;
    for (const round of current ? [current, ...past] : past) {
      for (const id of round.contributions || []) {
        if (updateCache.has(id)) {
          updates.set(id, updateCache.get(id));
        } else if (!updates.has(id) && updateFetches < MAX_CONTRIBUTION_FETCHES) {
          updateFetches++;
          try {
            updates.set(id, await updateOf(id));
          } catch (_) {
            // Shown as unknown; the next refresh tries again.
          }
        }
      }
    }
    return roundsModel({ lineage, current, past, updates, note });
  }

  function drawRounds(view, model) {
    if (model === null) {
      if (view.rounds) {
        view.rounds.remove();
        view.rounds = null;
      }
      view.current = null;
      view.closedRounds.clear();
      return;
    }
    const panel = renderRounds(model, view.id);
    if (view.rounds) {
      view.rounds.replaceWith(panel);
    } else {
      view.section.insertBefore(panel, view.details);
    }
    view.rounds = panel;
  }

  // For interop/dashboard.mjs, which checks the panel's rendering on a
  // fixture (its test chain has no lineage in round mode).
  window.umDashboard = Object.freeze({ roundsModel, renderRounds, pastRoundNumbers, MAX_CLOSED_ROUNDS });

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
      // Lineages that advance one update at a time have no rounds to fetch.
      const rounds = lineage.rounds ? await fetchRounds(view, lineage) : null;
      // Chart, summary, table and rounds change together, in one task, so
      // the page never shows a chart and a table of different refreshes.
      drawChart(view, ascending);
      drawSummary(view, lineage, ascending);
      drawTable(view, lineage, ascending, newest, verdicts);
      drawRounds(view, rounds);
      // The drawing pad (image lineages) or the head's sample (language
      // lineages): use.js.
      await window.umUse.attach(view.section, view.details, lineage);
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

  // --- karma ----------------------------------------------------------------

  const LEADERBOARD_ROWS = 20;

  async function refreshKarma() {
    const body = await getJson(`/um/karma/v1/leaderboard?pagination.limit=${LEADERBOARD_ROWS}`);
    const entries = body.entries || [];
    document.getElementById("karma-empty").hidden = entries.length > 0;
    const table = document.getElementById("leaderboard");
    const rows = entries.map((k, index) => {
      const c = k.contributions || {};
      return el("tr", { "data-address": k.address, "data-score": String(k.score) }, [
        el("td", { text: String(index + 1) }),
        el("td", { text: shortAddress(k.address), title: k.address }),
        el("td", { text: String(k.score) }),
        ...["versions", "round_contributions", "deltas", "records", "verdicts", "slashes"].map((f) => el("td", { text: String(c[f] || "0") })),
        el("td", { class: "badges", text: (k.badges || []).join(", ") }),
      ]);
    });
    table.querySelector("tbody").replaceChildren(...rows);
    table.setAttribute("data-rows", String(rows.length));
  }

  // --- the loop -------------------------------------------------------------

  async function refresh() {
    const status = document.getElementById("status");
    status.setAttribute("data-busy", "true");
    try {
      const height = await refreshModels();
      await refreshKarma();
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
