// The leader dies under a logged-in browser user: the page was served by the
// leader and its WebSocket goes with it. The cluster panel must show the old
// leader down and a new leader, live; the page reconnects to another member,
// resumes with its token, and the next message still reaches the other user
// live. Screenshot: cluster-failover.png in imgDir (lib.mjs).
import { join } from "node:path";
import { imgDir, launchBrowser, signUpPage } from "./lib.mjs";

const nodes = Object.fromEntries((process.env.QC_NODES || "").trim().split(/\s+/).map((s) => {
  const [id, rest] = s.split("="); const [pid, addr] = rest.split("@");
  return [id, { pid: Number(pid), addr }];
}));
const run = Date.now().toString(36);
const carol = `carol_${run}`, dave = `dave_${run}`;

async function leaderOf(addr) {
  for (let i = 0; i < 100; i++) {
    try {
      const st = await (await fetch(`http://${addr}/status`)).json();
      if (st.leader) return st.leader;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no leader");
}

const browser = await launchBrowser();
let failed = false;
try {
  const ids = Object.keys(nodes);
  const leader = await leaderOf(nodes[ids[0]].addr);
  const follower = ids.find((id) => id !== leader);
  const a = await signUpPage(browser, `http://${nodes[leader].addr}/`, carol);
  const b = await signUpPage(browser, `http://${nodes[follower].addr}/`, dave);
  await a.getByTestId("search").fill(dave);
  await a.getByTestId("result-" + dave).click();
  await a.getByTestId("body").fill("before the failover");
  await a.getByTestId("send").click();
  await b.getByTestId("unread-" + carol).waitFor({ timeout: 10000 });
  // the panel marks the current leader
  await a.locator(`tr.leader[data-testid="member-${leader}"]`).waitFor({ timeout: 10000 });

  process.kill(nodes[leader].pid, "SIGKILL");
  const killedAt = Date.now();
  // the panel shows the old leader down and another member leading, without a reload
  await a.locator(`[data-testid="member-${leader}"] .role`).filter({ hasText: "down" }).waitFor({ timeout: 15000 });
  await a.locator("tr.leader").first().waitFor({ timeout: 15000 });
  const newLeader = (await a.locator("tr.leader").first().getAttribute("data-testid")).replace("member-", "");
  if (newLeader === leader) throw new Error("panel still shows the dead leader as leader");
  const seenMs = Date.now() - killedAt;
  // the page reconnected to a survivor and resumed its session
  await a.getByTestId("conn").filter({ hasText: "connected" }).waitFor({ timeout: 15000 });
  await a.getByTestId("body").fill("after the failover");
  await a.getByTestId("send").click();
  await a.getByTestId("msg").filter({ hasText: "after the failover" }).waitFor({ timeout: 15000 });
  await b.getByTestId("conv-" + carol).click();
  await b.getByTestId("msg").filter({ hasText: "after the failover" }).waitFor({ timeout: 15000 });
  await a.screenshot({ path: join(imgDir, "cluster-failover.png") });
  console.log(`browser failover test: leader ${leader} killed, panel showed ${newLeader} leading ${seenMs} ms later`);
  console.log("browser failover test: 1 passed, 0 failed");
} catch (e) {
  failed = true;
  console.error("browser failover test FAILED:", e.message);
  console.log("browser failover test: 0 passed, 1 failed");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
