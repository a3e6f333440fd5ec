// Opens umd's dashboard in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) and reports what it shows, as JSON lines.
//
//   node dashboard.mjs <dashboard url> <screenshot.png>
//
// 1. Loads the page and waits until every model's chart is drawn (a canvas,
//    data-points >= 1) and a refresh has succeeded; checks the rounds panel
//    (below); prints {"event":"loaded", roundsChecked, ...facts}.
// 2. For each line "points N" read on stdin, waits (without reloading the
//    page) until the first model's chart has at least N points, which only
//    the page's own periodic refresh can bring; prints
//    {"event":"refreshed", ...facts}.
// 3. At the end of stdin, saves the screenshot and prints
//    {"event":"done", ...facts}.
//
// The rounds panel: every lineage in round mode (`rounds` set in
// /um/training/v1/models) has one and no other lineage has; and the page's
// own pure rendering functions (window.umDashboard.roundsModel and
// .renderRounds) turn a fixture of round records into the expected values
// and elements, so the panel is checked even against a chain whose
// lineages all advance one update at a time. A failure exits 1.
//
// With PAD_DIGITS=<file.json> ([{label, pixels: [784]}...]), after "loaded":
// draws a stroke with the mouse on the first model's drawing pad and waits
// for the head's probabilities, then renders each digit onto the pad
// (window.umUse.drawDigit) and reads the class the page shows; prints
// {"event":"pad", stroke: {predicted, probabilities, version}, digits:
// [{label, predicted, version}]}.
//
// With SAMPLE_MODEL=<model id> (a language lineage), after "loaded": waits
// for its div.sample to show text from a version and prints {"event":
// "sample", model, version, text, caption}.
//
// Facts: the karma leaderboard's rows (address, score, cells); per model its chart's data-points/data-measured, the version
// table's rows (version, height, trainer, verdicts), its rounds panel (null
// without one), per dataset its rows;
// plus every console error, page error, failed request, HTTP error and request to a
// host other than the dashboard's (the page must need no network).
// Exit code 1 with the reason on stderr when something does not show up in
// time (CHROMIUM overrides the browser path, WAIT_MS the 60 s wait).

import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node dashboard.mjs <dashboard url> <screenshot.png>");
  process.exit(2);
}
const waitMs = Number(process.env.WAIT_MS || 60000);
const origin = new URL(url).origin;

const problems = {
  consoleErrors: [],
  pageErrors: [],
  failedRequests: [],
  errorResponses: [],
  foreignRequests: [],
};

async function facts(page) {
  const dom = await page.evaluate(() => {
    const models = [...document.querySelectorAll("article.model")].map((article) => {
      const chart = article.querySelector(".chart");
      const table = article.querySelector("table.versions");
      const canvas = chart && chart.querySelector("canvas");
      const rows = [...table.querySelectorAll("tbody tr")].map((tr) => {
        const cells = [...tr.querySelectorAll("td")];
        return {
          version: tr.getAttribute("data-version"),
          height: cells[3] ? cells[3].textContent : null,
          trainer: cells[2] ? cells[2].getAttribute("title") : null,
          validationLoss: cells[4] ? cells[4].textContent : null,
          verdicts: cells[7] ? cells[7].textContent : null,
        };
      });
      const panel = article.querySelector("div.rounds");
      const rounds = panel && {
        current: panel.getAttribute("data-current"),
        status: panel.getAttribute("data-status"),
        text: (panel.querySelector(".round-current") || {}).textContent || null,
        contributors: [...panel.querySelectorAll("table.round-contributors tbody tr")].map((tr) =>
          [...tr.querySelectorAll("td")].map((td) => td.textContent),
        ),
        closed: [...panel.querySelectorAll("table.rounds-closed tbody tr")].map((tr) =>
          [...tr.querySelectorAll("td")].map((td) => td.textContent),
        ),
      };
      return {
        model: article.getAttribute("data-model"),
        rounds,
        points: Number(chart.getAttribute("data-points")),
        measured: Number(chart.getAttribute("data-measured")),
        canvas: canvas ? { width: canvas.width, height: canvas.height } : null,
        legend: [...chart.querySelectorAll(".u-legend .u-label")].map((l) => l.textContent),
        rows,
      };
    });
    const datasets = [...document.querySelectorAll("article.dataset")].map((article) => ({
      dataset: article.getAttribute("data-dataset"),
      rows: Number(article.querySelector("table").getAttribute("data-rows")),
      summary: article.querySelector(".summary").textContent,
    }));
    const status = document.getElementById("status");
    const board = document.getElementById("leaderboard");
    return {
      leaderboard: board
        ? [...board.querySelectorAll("tbody tr")].map((tr) => ({
            address: tr.getAttribute("data-address"),
            score: tr.getAttribute("data-score"),
            cells: [...tr.querySelectorAll("td")].map((td) => td.textContent),
          }))
        : null,
      title: document.title,
      status: status.textContent,
      statusOk: status.getAttribute("data-ok") === "true",
      refreshes: Number(status.getAttribute("data-refreshes")),
      models,
      datasets,
    };
  });
  return { ...dom, ...problems };
}

async function waitForPoints(page, minPoints) {
  await page.waitForFunction(
    (min) => {
      const chart = document.querySelector("article.model .chart");
      const status = document.getElementById("status");
      return (
        chart !== null &&
        chart.querySelector("canvas") !== null &&
        Number(chart.getAttribute("data-points")) >= min &&
        status.getAttribute("data-ok") === "true" &&
        status.getAttribute("data-busy") === "false"
      );
    },
    minPoints,
    { timeout: waitMs, polling: 200 },
  );
}

// Round records as the REST API answers them (proto3 JSON: u64 as strings,
// every field present), for the rendering check.
const TRAINERS = {
  alice: "um1alice0000000000000000000000000000000a1ce",
  bob: "um1bob000000000000000000000000000000000b0b0",
  carol: "um1carol00000000000000000000000000000ca401",
};

function fixtureRound(number, fields) {
  return {
    model_id: "fixture",
    number: String(number),
    base_version: "0",
    base_weights_sha256: "",
    opened_height: String(number * 20),
    closes_height: String(number * 20 + 20),
    status: "ROUND_STATUS_CLOSED",
    params: { max_contributions: 4, round_blocks: "20", outer_learning_rate: "1", eval_samples: 0, checkpoint_interval: 0, segments_per_validator: 0 },
    seed: "",
    contributions: [],
    shards: [],
    candidate_update_id: "0",
    version: "0",
    outcome: "NO_CONTRIBUTIONS",
    closed_height: String(number * 20 + 21),
    ...fields,
  };
}

function roundsFixture() {
  const lineage = {
    model_id: "fixture",
    head_version: "9",
    rounds: { max_contributions: 4, round_blocks: "20", outer_learning_rate: "0.7", eval_samples: 0, checkpoint_interval: 0, segments_per_validator: 0 },
  };
  const current = fixtureRound(12, {
    base_version: "9",
    opened_height: "300",
    closes_height: "320",
    status: "ROUND_STATUS_EVALUATING",
    contributions: ["41", "42", "43"],
    shards: [2, 0, 3],
    candidate_update_id: "44",
    outcome: "",
    closed_height: "0",
  });
  // Rounds 1-11, shuffled, plus a stale copy of round 12 and a round 13
  // that must not show among the closed ones.
  const past = [
    fixtureRound(3, { outcome: "MERGED", version: "2", contributions: ["5", "6"], shards: [0, 1] }),
    fixtureRound(11, { outcome: "MERGED", version: "9", contributions: ["38", "39"], shards: [1, 0], candidate_update_id: "40" }),
    fixtureRound(1, { outcome: "MERGED", version: "1", contributions: ["1"], shards: [0] }),
    fixtureRound(10, { outcome: "NO_IMPROVEMENT", contributions: ["35"], shards: [3], candidate_update_id: "36" }),
    fixtureRound(9, { outcome: "BEST_CONTRIBUTION", version: "8", contributions: ["30", "31"], shards: [0, 1] }),
    fixtureRound(12, { status: "ROUND_STATUS_OPEN", outcome: "" }),
    fixtureRound(13, { status: "ROUND_STATUS_OPEN", outcome: "" }),
    ...[2, 4, 5, 6, 7, 8].map((n) => fixtureRound(n)),
  ];
  const updates = {
    41: { trainer: TRAINERS.alice, status: "UPDATE_STATUS_VERIFIED", reason: "" },
    42: { trainer: TRAINERS.bob, status: "UPDATE_STATUS_REJECTED", reason: "VERDICT_REASON_WEIGHTS_MISMATCH" },
    // 43 not fetched yet.
    38: { trainer: TRAINERS.carol, status: "UPDATE_STATUS_ACCEPTED", reason: "" },
    39: { trainer: TRAINERS.alice, status: "UPDATE_STATUS_ACCEPTED", reason: "" },
    35: { trainer: TRAINERS.bob, status: "UPDATE_STATUS_REJECTED", reason: "NOT_MERGED" },
  };
  return { lineage, current, past, updates };
}

// Evaluated in the page: the list of what differs from the expected.
function checkRoundsRendering({ fixture, trainers }) {
  const failures = [];
  const api = window.umDashboard;
  if (!api || typeof api.roundsModel !== "function" || typeof api.renderRounds !== "function") {
    return ["window.umDashboard.roundsModel/renderRounds are missing"];
  }
  const same = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  };
  const short = (a) => `${a.slice(0, 9)}…${a.slice(-6)}`;

  same("past round numbers of round 12", api.pastRoundNumbers({ number: "12", status: "ROUND_STATUS_OPEN" }),
    ["11", "10", "9", "8", "7", "6", "5", "4", "3", "2"]);
  same("past round numbers of round 3", api.pastRoundNumbers({ number: "3", status: "ROUND_STATUS_OPEN" }), ["2", "1"]);
  same("past round numbers of a closed round 12", api.pastRoundNumbers({ number: "12", status: "ROUND_STATUS_CLOSED" }).length, 9);
  same("past round numbers without a round", api.pastRoundNumbers(null), []);

  const model = api.roundsModel(fixture);
  same("settings", model.settings, "up to 4 contributions per round, open for 20 blocks, outer learning rate 0.7");
  same("note", model.note, null);
  same("current", { ...model.current, contributors: undefined }, {
    number: "12", status: "evaluating", statusCode: "ROUND_STATUS_EVALUATING", baseVersion: "9",
    openedHeight: "300", closesHeight: "320", shardsTaken: 3, maxShards: 4, candidate: "44",
    outcome: null, version: null,
  });
  same("current contributors", model.current.contributors, [
    { update: "41", shard: "2", trainer: trainers.alice, status: "verified", reason: "" },
    { update: "42", shard: "0", trainer: trainers.bob, status: "rejected", reason: "weights mismatch" },
    { update: "43", shard: "3", trainer: "", status: "…", reason: "" },
  ]);
  same("closed rounds, newest first, at most 10", model.closed.map((r) => r.number),
    ["11", "10", "9", "8", "7", "6", "5", "4", "3", "2"]);
  same("round 11", model.closed[0], {
    number: "11", outcome: "merged", outcomeCode: "MERGED", version: "9", closedHeight: "241",
    contributors: [
      { update: "38", shard: "1", trainer: trainers.carol, status: "accepted", reason: "" },
      { update: "39", shard: "0", trainer: trainers.alice, status: "accepted", reason: "" },
    ],
  });
  same("round 10", [model.closed[1].outcome, model.closed[1].version, model.closed[1].contributors[0].reason],
    ["no improvement", null, "not merged"]);
  same("round 9", [model.closed[2].outcome, model.closed[2].version, model.closed[2].contributors.map((c) => c.status)],
    ["best contribution", "8", ["…", "…"]]);
  same("round 8", [model.closed[3].outcome, model.closed[3].contributors], ["no contributions", []]);

  const panel = api.renderRounds(model, "fixture");
  const cells = (tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent);
  same("panel attributes", ["data-model", "data-current", "data-status", "data-closed"].map((a) => panel.getAttribute(a)),
    ["fixture", "12", "ROUND_STATUS_EVALUATING", "10"]);
  same("panel current line", panel.querySelector(".round-current").textContent,
    "round 12 · evaluating · from version 9 · opened at height 300 · closes at height 320 · shards 3 / 4 · candidate: update 44");
  same("contributor rows", [...panel.querySelectorAll("table.round-contributors tbody tr")].map(cells), [
    ["41", "2", short(trainers.alice), "verified"],
    ["42", "0", short(trainers.bob), "rejected (weights mismatch)"],
    ["43", "3", "…", "…"],
  ]);
  same("contributor trainer titles", [...panel.querySelectorAll("table.round-contributors tbody tr td:nth-child(3)")].map((td) => td.getAttribute("title")),
    [trainers.alice, trainers.bob, ""]);
  const closedRows = [...panel.querySelectorAll("table.rounds-closed tbody tr")];
  same("closed table rows", panel.querySelector("table.rounds-closed").getAttribute("data-rows"), "10");
  same("closed round 11 row", cells(closedRows[0]), ["11", "merged", "9", "241", `${short(trainers.carol)}, ${short(trainers.alice)}`]);
  same("closed round 10 row", cells(closedRows[1]), ["10", "no improvement", "—", "221", short(trainers.bob)]);
  same("closed round 9 row", cells(closedRows[2]), ["9", "best contribution", "8", "201", "#30, #31"]);
  same("closed round 8 row", cells(closedRows[3]), ["8", "no contributions", "—", "181", "—"]);
  same("closed outcomes", closedRows.map((tr) => tr.getAttribute("data-outcome")).slice(0, 4),
    ["MERGED", "NO_IMPROVEMENT", "BEST_CONTRIBUTION", "NO_CONTRIBUTIONS"]);

  // The first round, nothing contributed yet, nothing closed.
  const first = api.roundsModel({ ...fixture, current: { ...fixture.current, number: "1", status: "ROUND_STATUS_OPEN", contributions: [], shards: [], candidate_update_id: "0" }, past: [], updates: {} });
  const firstPanel = api.renderRounds(first, "fixture");
  same("first round", [first.closed.length, firstPanel.querySelector("table.round-contributors"), firstPanel.querySelector("table.rounds-closed"),
    [...firstPanel.querySelectorAll("p.empty")].map((p) => p.textContent)], [0, null, null, ["no contributions yet"]]);
  same("first round line", firstPanel.querySelector(".round-current").textContent,
    "round 1 · open · from version 9 · opened at height 300 · closes at height 320 · shards 0 / 4");

  // No current round known: the note, nothing else.
  const none = api.roundsModel({ lineage: fixture.lineage, current: null, past: [], updates: new Map(), note: "no round has opened yet" });
  const nonePanel = api.renderRounds(none, "fixture");
  same("no round", [none.current, none.closed, nonePanel.getAttribute("data-current"), nonePanel.querySelector(".round-current"),
    nonePanel.querySelector("p.empty").textContent], [null, [], "", null, "no round has opened yet"]);
  return failures;
}

// Every lineage in round mode has a rounds panel, no other has one, and the
// rendering functions pass checkRoundsRendering; throws otherwise.
async function checkRounds(page) {
  const failures = await page.evaluate(async () => {
    const response = await fetch("/um/training/v1/models?pagination.limit=1000", { cache: "no-store" });
    const lineages = (await response.json()).lineages || [];
    const failures = [];
    for (const lineage of lineages) {
      const article = document.querySelector(`article.model[data-model="${CSS.escape(lineage.model_id)}"]`);
      const panel = article && article.querySelector("div.rounds");
      if (Boolean(lineage.rounds) !== Boolean(panel)) {
        failures.push(`${lineage.model_id}: rounds ${JSON.stringify(lineage.rounds)} but ${panel ? "a" : "no"} rounds panel`);
      }
    }
    return failures;
  });
  failures.push(...(await page.evaluate(checkRoundsRendering, { fixture: roundsFixture(), trainers: TRAINERS })));
  if (failures.length) {
    throw new Error(`rounds panel:\n${failures.join("\n")}`);
  }
  return true;
}

// The first model's drawing pad: a stroke drawn with the mouse, then real
// digits rendered onto it.
async function checkPad(page, digitsFile) {
  const digits = JSON.parse(readFileSync(digitsFile, "utf8"));
  const pad = page.locator("article.model div.pad").first();
  await pad.waitFor({ timeout: waitMs });
  const model = await pad.getAttribute("data-model");
  const box = await pad.locator("canvas.pad-canvas").boundingBox();
  // A "7": across the top, then down to the lower left.
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(0.3, 0.25));
  await page.mouse.down();
  for (const [fx, fy] of [[0.5, 0.25], [0.7, 0.25], [0.6, 0.5], [0.5, 0.75]]) {
    await page.mouse.move(...at(fx, fy), { steps: 8 });
  }
  await page.mouse.up();
  await page.waitForFunction(
    (id) => Number(document.querySelector(`div.pad[data-model="${CSS.escape(id)}"]`).getAttribute("data-predictions")) >= 1,
    model,
    { timeout: waitMs, polling: 100 },
  );
  const stroke = await pad.evaluate((panel) => ({
    predicted: panel.querySelector(".predicted").getAttribute("data-class"),
    version: panel.querySelector(".predicted").getAttribute("data-version"),
    probabilities: [...panel.querySelectorAll(".bar")].map((bar) => Number(bar.getAttribute("data-p"))),
    note: panel.querySelector(".pad-note").textContent,
  }));
  const results = [];
  for (const digit of digits) {
    const shown = await page.evaluate(({ model, pixels }) => window.umUse.drawDigit(model, pixels), { model, pixels: digit.pixels });
    results.push({ label: digit.label, predicted: shown.predicted, version: shown.version });
  }
  return { model, stroke, digits: results };
}

// A language lineage's sample from its head.
async function checkSample(page, model) {
  const selector = `div.sample[data-model="${model.replace(/"/g, '\\"')}"]`;
  await page.waitForFunction(
    (sel) => {
      const panel = document.querySelector(sel);
      return panel !== null && panel.getAttribute("data-version") !== "";
    },
    selector,
    { timeout: waitMs, polling: 200 },
  );
  return page.evaluate((sel) => {
    const panel = document.querySelector(sel);
    return {
      model: panel.getAttribute("data-model"),
      version: panel.getAttribute("data-version"),
      text: panel.querySelector(".sample-text").textContent,
      caption: panel.querySelector(".sample-caption").textContent,
    };
  }, selector);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
    headless: true,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on("console", (message) => {
      if (message.type() === "error") {
        problems.consoleErrors.push(`${message.text()} (${message.location().url})`);
      }
    });
    page.on("pageerror", (error) => problems.pageErrors.push(String(error)));
    page.on("requestfailed", (request) =>
      problems.failedRequests.push(`${request.url()}: ${request.failure()?.errorText}`),
    );
    page.on("response", (response) => {
      if (response.status() >= 400) {
        problems.errorResponses.push(`${response.url()}: HTTP ${response.status()}`);
      }
    });
    page.on("request", (request) => {
      if (new URL(request.url()).origin !== origin) {
        problems.foreignRequests.push(request.url());
      }
    });
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) {
        navigations++;
      }
    });

    await page.goto(url, { waitUntil: "load" });
    await waitForPoints(page, 1);
    const roundsChecked = await checkRounds(page);
    console.log(JSON.stringify({ event: "loaded", navigations, roundsChecked, ...(await facts(page)) }));
    if (process.env.SAMPLE_MODEL) {
      console.log(JSON.stringify({ event: "sample", ...(await checkSample(page, process.env.SAMPLE_MODEL)) }));
    }
    if (process.env.PAD_DIGITS) {
      console.log(JSON.stringify({ event: "pad", ...(await checkPad(page, process.env.PAD_DIGITS)) }));
    }

    const input = createInterface({ input: process.stdin });
    for await (const line of input) {
      const match = /^points (\d+)$/.exec(line.trim());
      if (!match) {
        continue;
      }
      await waitForPoints(page, Number(match[1]));
      console.log(JSON.stringify({ event: "refreshed", navigations, ...(await facts(page)) }));
    }

    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ event: "done", navigations, screenshot, ...(await facts(page)) }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(`dashboard.mjs: ${error && error.stack ? error.stack : error}`);
  console.error(JSON.stringify(problems));
  process.exit(1);
});
