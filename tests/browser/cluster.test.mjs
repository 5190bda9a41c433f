// The live cluster view (/cluster) on a 5-node cluster with [testing]
// enabled: the page must show all five members live; the Isolate button on
// the leader must bring a new leader onto the timeline within seconds
// while writes go on without the old one; Heal all must let the old leader
// catch up its commit index; Pause must drop a follower's peer frames and
// heal by itself; the guided demo must run every step. Screenshots:
// cluster-view.png, cluster-view-isolated.png, cluster-view-healed.png and
// cluster-view-demo.png in imgDir (lib.mjs).
import { join } from "node:path";
import { imgDir, launchBrowser } from "./lib.mjs";

const nodes = Object.fromEntries((process.env.QC_NODES || "").trim().split(/\s+/).map((s) => {
  const [id, rest] = s.split("="); const [pid, addr] = rest.split("@");
  return [id, { pid: Number(pid), addr }];
}));
const ids = Object.keys(nodes);
const token = "browser-admin";

const browser = await launchBrowser();
let failed = false;
const row = (page, id) => page.getByTestId(`member-${id}`);
const commitOf = async (page, id) => Number(await page.getByTestId(`bars-${id}`).getAttribute("data-commit"));
async function leaderRow(page) {
  await page.locator("tr.leader").first().waitFor({ timeout: 15000 });
  return (await page.locator("tr.leader").first().getAttribute("data-testid")).replace("member-", "");
}
try {
  if (ids.length !== 5) throw new Error(`expected 5 nodes in QC_NODES, got ${ids.length}`);
  const page = await (await browser.newContext({ viewport: { width: 1500, height: 900 } })).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://${nodes.n1.addr}/cluster`);
  await page.getByTestId("admin-token").fill(token);

  // Every member shows up live, with a role from its own event stream.
  for (const id of ids)
    await page.locator(`[data-testid="member-${id}"]:is([data-role="leader"],[data-role="follower"])`).waitFor({ timeout: 15000 });
  const rows = await page.locator('#members tr[data-testid^="member-"]').count();
  if (rows !== 5) throw new Error(`expected 5 member rows, saw ${rows}`);
  const old = await leaderRow(page);
  await page.locator('[data-testid="event"][data-kind="start"]').first().waitFor({ timeout: 5000 });
  // Some writes so the bars and commits/s have something to show.
  const via = ids.find((id) => id !== old);
  await page.evaluate(async (via) => { for (let i = 0; i < 20; i++) await write(via, "viewer"); }, via);
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(imgDir, "cluster-view.png") });

  // Isolate the leader with its button: a new leader appears on the timeline.
  const oldTerm = Number(await row(page, old).locator("td.term").textContent());
  const isolatedAt = Date.now();
  await page.getByTestId(`isolate-${old}`).click();
  await page.getByTestId(`drops-${old}`).waitFor({ timeout: 5000 });
  // (the timeline also holds the elections before this one: only a later term counts)
  const won = await page.waitForFunction(({ old, oldTerm }) => {
    const e = [...document.querySelectorAll('[data-testid="event"][data-kind="won"]')]
      .find((li) => li.dataset.node !== old && Number(li.dataset.term) > oldTerm);
    return e && [e.dataset.node, Number(e.dataset.term), Number(e.dataset.ts)];
  }, { old, oldTerm }, { timeout: 10000, polling: 20 });
  const electedMs = Date.now() - isolatedAt;
  const [newLeader, newTerm, wonTs] = await won.jsonValue();
  const wonAtNodeMs = wonTs - isolatedAt;  // the node stamped it (same machine, same clock)
  if (electedMs > 5000) throw new Error(`new leader on the timeline only ${electedMs} ms after the isolation`);
  // Its row takes the lead with its next progress frame (every 250 ms).
  await page.locator(`tr.leader[data-testid="member-${newLeader}"]`).waitFor({ timeout: 3000 });
  // Writes go on without the old leader, which falls behind.
  await page.evaluate(async (via) => { for (let i = 0; i < 10; i++) await write(via, "viewer"); }, via);
  // A row shows its node's last progress frame (one every 250 ms): wait for
  // the new leader's to carry the writes before comparing.
  await page.waitForFunction(({ old, newLeader }) => {
    const c = (id) => Number(document.querySelector(`[data-testid="bars-${id}"]`)?.dataset.commit);
    return c(newLeader) > c(old);
  }, { old, newLeader }, { timeout: 5000, polling: 20 }).catch(() => {});
  const target = await commitOf(page, newLeader);
  await page.waitForTimeout(500);
  const behind = await commitOf(page, old);
  if (!(behind < target)) throw new Error(`isolated ${old} has commit ${behind}, not behind ${newLeader}'s ${target}`);
  await page.screenshot({ path: join(imgDir, "cluster-view-isolated.png") });

  // Heal: the old leader follows the new one and catches up.
  const healedAt = Date.now();
  await page.getByTestId("heal-all").click();
  await page.waitForFunction(({ old, target }) => {
    const r = document.querySelector(`[data-testid="member-${old}"]`);
    const b = document.querySelector(`[data-testid="bars-${old}"]`);
    return r && r.dataset.role === "follower" && b && Number(b.dataset.commit) >= target;
  }, { old, target }, { timeout: 15000 });
  const caughtUpMs = Date.now() - healedAt;
  await page.getByTestId(`drops-${old}`).waitFor({ state: "detached", timeout: 5000 });
  await page.screenshot({ path: join(imgDir, "cluster-view-healed.png") });

  // Pause a follower for 2 s: the action and the self-heal both reach the timeline.
  const follower = ids.find((id) => id !== newLeader && id !== old);
  await page.locator("#pause-s").fill("2");
  await page.getByTestId(`pause-${follower}`).click();
  await page.locator(`[data-testid="event"][data-kind="action"][data-node="${follower}"]`).filter({ hasText: "pausing" }).first().waitFor({ timeout: 5000 });
  // While paused, the leader stops hearing it; after the pause it hears it again.
  await row(page, follower).filter({ hasText: "leader does not hear it" }).waitFor({ timeout: 2000 });
  await page.locator(`[data-testid="event"][data-kind="heal"][data-node="${follower}"]`).first().waitFor({ timeout: 6000 });
  await row(page, follower).filter({ hasText: "leader hears it" }).waitFor({ timeout: 5000 });

  // The guided demo runs its six steps, each with a measured time.
  await page.getByTestId("demo").click();
  await page.locator('[data-testid="demo-step"].done').nth(5).waitFor({ timeout: 40000 });
  if (await page.locator('[data-testid="demo-step"].failed').count()) throw new Error("a demo step failed");
  const steps = await page.locator('[data-testid="demo-step"]').allTextContents();
  await page.screenshot({ path: join(imgDir, "cluster-view-demo.png") });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log(`cluster view test: leader ${old} isolated, ${newLeader} won term ${newTerm} ${wonAtNodeMs} ms later (its stamp),` +
              ` on the page's timeline ${electedMs} ms after the click;` +
              ` healed, ${old} caught up to commit ${target} in ${caughtUpMs} ms`);
  for (const s of steps) console.log("  demo: " + s);
  console.log("browser cluster view test: 1 passed, 0 failed");
} catch (e) {
  failed = true;
  console.error("browser cluster view test FAILED:", e.message);
  console.log("browser cluster view test: 0 passed, 1 failed");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
