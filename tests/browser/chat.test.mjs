// Two browser users (alice, bob) on a live node: alice sends, bob sees it
// arrive live with an unread badge, opens it (mark read), alice sees the
// read receipt, bob replies. Screenshots: see imgDir in lib.mjs.
import { join } from "node:path";
import { imgDir, launchBrowser, signUpPage } from "./lib.mjs";

const url = process.env.QC_URL || "http://127.0.0.1:7001/";
const run = Date.now().toString(36);
const alice = `alice_${run}`, bob = `bob_${run}`;

const browser = await launchBrowser();
let failed = false;
try {
  const a = await signUpPage(browser, url, alice);
  const b = await signUpPage(browser, url, bob);
  // alice finds bob and sends a message
  await a.getByTestId("search").fill(bob);
  await a.getByTestId("result-" + bob).click();
  await a.getByTestId("body").fill("hello bob, live from alice");
  await a.getByTestId("send").click();
  await a.getByTestId("msg").filter({ hasText: "hello bob" }).waitFor({ timeout: 10000 });
  // bob sees it arrive live (no reload) with an unread badge
  await b.getByTestId("unread-" + alice).waitFor({ timeout: 10000 });
  await b.screenshot({ path: join(imgDir, "chat-bob-unread.png") });
  await b.getByTestId("conv-" + alice).click();
  await b.getByTestId("msg").filter({ hasText: "hello bob" }).waitFor({ timeout: 10000 });
  // alice gets the read receipt
  await a.getByTestId("read").first().waitFor({ timeout: 10000 });
  // bob replies, alice sees it live
  await b.getByTestId("body").fill("hi alice! got it");
  await b.getByTestId("send").click();
  await a.getByTestId("msg").filter({ hasText: "hi alice! got it" }).waitFor({ timeout: 10000 });
  await a.waitForTimeout(1200);  // let the cluster panel refresh
  await a.screenshot({ path: join(imgDir, "chat-alice.png") });
  await b.screenshot({ path: join(imgDir, "chat-bob.png") });
  console.log("browser chat test: 1 passed, 0 failed");
} catch (e) {
  failed = true;
  console.error("browser chat test FAILED:", e.message);
  console.log("browser chat test: 0 passed, 1 failed");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
