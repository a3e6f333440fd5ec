// Opens umd's dashboard in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) and reports what it shows, as JSON lines.
//
//   node dashboard.mjs <dashboard url> <screenshot.png>
//
// 1. Loads the page and waits until every model's chart is drawn (a canvas,
//    data-points >= 1) and a refresh has succeeded; prints
//    {"event":"loaded", ...facts}.
// 2. For each line "points N" read on stdin, waits (without reloading the
//    page) until the first model's chart has at least N points, which only
//    the page's own periodic refresh can bring; prints
//    {"event":"refreshed", ...facts}.
// 3. At the end of stdin, saves the screenshot and prints
//    {"event":"done", ...facts}.
//
// Facts: per model its chart's data-points/data-measured, the version
// table's rows (version, height, trainer, verdicts), per dataset its rows;
// plus every console error, page error, failed request, HTTP error and request to a
// host other than the dashboard's (the page must need no network).
// Exit code 1 with the reason on stderr when something does not show up in
// time (CHROMIUM overrides the browser path, WAIT_MS the 60 s wait).

import { chromium } from "playwright-core";
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
      return {
        model: article.getAttribute("data-model"),
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
    return {
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
    console.log(JSON.stringify({ event: "loaded", navigations, ...(await facts(page)) }));

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
