// The dashboard in headless Chromium (Debian's chromium, driven by
// playwright-core): run by tests/node/browser_test.cpp, which starts CIM, CIB
// and HQ and passes their URLs, tokens and CIB's pid in the environment.
//   1. HQ's page shows an admission made at CIM through the API, without a reload;
//   2. the language switch relabels the page;
//   3. CIB's node stops: HQ's page marks CIB stale;
//   4. an operator records an admission from CIM's own page;
//   5. the page fits 1366×768 and never asks another host for anything.
// Exit code 0 when every step held; otherwise the failed step on stderr.
import { chromium } from "playwright-core";

const env = process.env;
const need = (name) => {
  if (!env[name]) throw new Error(`${name} is not set`);
  return env[name];
};
const hq = need("HQ_URL"), cim = need("CIM_URL");
const viewer = need("VIEWER_TOKEN"), cimToken = need("CIM_TOKEN");
const cibPid = Number(need("CIB_PID"));
const deadline = { timeout: 20000 };

const freeOf = (page, pool) =>
  page.locator(`tr[data-pool="${pool}"] td.free`).evaluate((cell) => Number(cell.firstChild.textContent.trim()));

const browser = await chromium.launch({ executablePath: env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const elsewhere = [];
let step = "start";
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  context.on("request", (request) => {
    const host = new URL(request.url()).hostname;
    if (host !== "127.0.0.1" && host !== "localhost") elsewhere.push(request.url());
  });

  step = "1. HQ's page shows CIM's admission live";
  const page = await context.newPage();
  await page.goto(`${hq}/?stale_s=12#token=${viewer}`);
  await page.locator('tr[data-pool="CIM/men"] td.free').waitFor(deadline);
  await page.locator("#live.on").waitFor(deadline);
  const before = await freeOf(page, "CIM/men");
  await page.evaluate(() => { window.notReloaded = true; });
  const admitted = await fetch(`${cim}/v1/pools/CIM/men/admit`, {
    method: "POST",
    headers: { Authorization: `Bearer ${cimToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ count: 2 }),
  });
  if (admitted.status !== 200) throw new Error(`the admission at CIM answered ${admitted.status}`);
  await page.waitForFunction(
    (expected) => {
      const cell = document.querySelector('tr[data-pool="CIM/men"] td.free');
      return cell && Number(cell.firstChild.textContent.trim()) === expected;
    },
    before - 2, deadline);
  if (!(await page.evaluate(() => window.notReloaded === true))) throw new Error("the page was reloaded");
  if (new URL(page.url()).hash !== "") throw new Error("the token stayed in the address bar");

  step = "2. the language switch";
  await page.selectOption("#lang", "nl");
  await page.locator('th[data-t="free"]', { hasText: "Vrij" }).waitFor(deadline);
  await page.selectOption("#lang", "fr");
  await page.locator('th[data-t="free"]', { hasText: "Libres" }).waitFor(deadline);
  await page.selectOption("#lang", "en");

  step = "3. a stopped centre is marked stale";
  if (await page.locator('tr[data-centre="CIB"][data-stale="true"]').count() !== 0)
    throw new Error("CIB is stale while its node runs");
  process.kill(cibPid, "SIGTERM");
  await page.locator('tr[data-centre="CIB"][data-stale="true"] .stale', { hasText: "not heard from for" })
    .waitFor({ timeout: 40000 });

  step = "4. an operator records an admission from CIM's page";
  const operator = await context.newPage();
  await operator.goto(`${cim}/#token=${cimToken}`);
  await operator.locator("#actions:not(.hidden)").waitFor(deadline);
  await operator.locator('tr[data-pool="CIM/men"] td.free').waitFor(deadline);
  const free = await freeOf(operator, "CIM/men");
  await operator.selectOption("#a-pool", "CIM/men");
  await operator.selectOption("#a-op", "admit");
  await operator.fill("#a-count", "1");
  await operator.click("#a-submit");
  await operator.locator("#result.ok").waitFor(deadline);
  await operator.waitForFunction(
    (expected) => Number(document.querySelector('tr[data-pool="CIM/men"] td.free').firstChild.textContent.trim()) === expected,
    free - 1, deadline);
  // A viewer's page has no form.
  if (await page.locator("#actions:not(.hidden)").count() !== 0) throw new Error("a viewer sees the operator's form");

  step = "5. 1366×768, nothing from elsewhere";
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 1366) throw new Error(`the page is ${width} px wide at 1366×768`);
  if (env.SCREENSHOT) await page.screenshot({ path: env.SCREENSHOT });
  if (elsewhere.length > 0) throw new Error(`requests to other hosts: ${elsewhere.join(", ")}`);
  console.log("dashboard: every step held");
} catch (error) {
  console.error(`dashboard: FAILED at ${step}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
