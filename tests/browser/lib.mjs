// Shared pieces of the browser tests: Debian's chromium through
// playwright-core, and a user signing up through the page.
import { chromium } from "playwright-core";
import { join, dirname } from "node:path";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/// Where screenshots go: $QC_SCREENSHOT_DIR, else <build>/screenshots, so a
/// test run never edits the checkout. QC_SCREENSHOT_DIR=docs/img refreshes
/// the README's pictures.
export const imgDir = process.env.QC_SCREENSHOT_DIR ||
  join(process.env.QC_BUILD_DIR || join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build"), "screenshots");
mkdirSync(imgDir, { recursive: true });

/// Headless chromium from /usr/bin/chromium.
export function launchBrowser() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// A new page at `url` on its own context, with `user` created and logged in.
export async function signUpPage(browser, url, user) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 700 } });
  const page = await ctx.newPage();
  await page.goto(url);
  await page.getByTestId("conn").filter({ hasText: "connected" }).waitFor({ timeout: 10000 });
  await page.getByTestId("user").fill(user);
  await page.getByTestId("password").fill("pw-" + user);
  await page.getByTestId("btn-create").click();
  await page.getByTestId("me").filter({ hasText: user }).waitFor({ timeout: 10000 });
  return page;
}
