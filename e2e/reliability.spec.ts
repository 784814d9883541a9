import type { Page } from "@playwright/test";
import { expect, freePorts, startServer, stopServer, test, type TestServer } from "./fixtures.js";
import { TcpProxy } from "../test/support/tcp-proxy.js";
import { connect, expectMediaFlowing, join, remoteUfrag } from "./helpers.js";

/** A server on fixed ports, so a "supervisor" (the test) can bring it back on the same address. */
async function restartableServer(env: Record<string, string> = {}) {
  const [port, grpcPort] = await freePorts(2);
  const fixed = { PORT: String(port), GRPC_PORT: String(grpcPort), ...env };
  let current: TestServer = await startServer(fixed);
  return {
    url: current.url,
    get process() {
      return current.process;
    },
    async restart() {
      current = await startServer(fixed);
    },
    stop: () => stopServer(current),
  };
}

/** Counts RPCs that failed because the server could not be reached (network error or UNAVAILABLE). */
async function countUnreachableRpcs(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __unreachableRpcs: number };
    w.__unreachableRpcs = 0;
    const original = window.fetch;
    window.fetch = async (input, init) => {
      const unary = !String(input).endsWith("/JoinCall");
      try {
        const response = await original(input, init);
        if (unary && (response.headers.get("grpc-status") === "14" || response.status >= 500)) w.__unreachableRpcs++;
        return response;
      } catch (error) {
        if (unary) w.__unreachableRpcs++;
        throw error;
      }
    };
  });
}

/** Records every numbered event the page's SDK processes. */
async function recordSequence(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as {
      __seqs: number[];
      peertobeer: { signaling: { on(e: "sequenced", f: (x: { seq: bigint }) => void): void } };
    };
    w.__seqs = [];
    w.peertobeer.signaling.on("sequenced", ({ seq }) => w.__seqs.push(Number(seq)));
  });
}

function connection(page: Page): Promise<{ state: string; user: string; online: string[] }> {
  return page.evaluate(() => {
    const { signaling, phone } = (
      window as unknown as {
        peertobeer: { signaling: { state: string; user: string }; phone: { getSnapshot(): { onlineUsers: string[] } } };
      }
    ).peertobeer;
    return { state: signaling.state, user: signaling.user, online: [...phone.getSnapshot().onlineUsers] };
  });
}

test("server killed mid-call: media keeps flowing, both return with the same IDs, hang-up still arrives", async ({ openUser }) => {
  const server = await restartableServer();
  try {
    const alice = await openUser({ url: server.url });
    const bob = await openUser({ url: server.url });
    await join(alice, "alice");
    await join(bob, "bob");
    await connect(alice, "alice", bob, "bob");

    server.process.kill("SIGKILL");
    await expect(alice.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible();
    await expect(bob.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible();
    await expectMediaFlowing(alice);
    await expectMediaFlowing(bob);

    await server.restart();
    await expect.poll(() => connection(alice), { timeout: 10_000 }).toMatchObject({ state: "online", user: "alice" });
    await expect.poll(() => connection(bob), { timeout: 10_000 }).toMatchObject({ state: "online", user: "bob" });
    await expect(alice.getByText("Reconnecting…")).toBeHidden();
    await expectMediaFlowing(alice);

    await alice.getByRole("button", { name: "Hang up" }).click();
    await expect(bob.getByRole("status").filter({ hasText: "alice hung up." })).toBeVisible();
    // Both are online on the new server and see each other.
    await expect(bob.getByRole("button", { name: "Call alice" })).toBeVisible();
  } finally {
    await server.stop();
  }
});

test("SIGTERM with a call up: the node drains and exits 0, no RPC fails, the call stays connected", async ({ openUser }) => {
  const server = await restartableServer({ DRAIN_TIMEOUT_MS: "3000" });
  try {
    const alice = await openUser({ url: server.url });
    const bob = await openUser({ url: server.url });
    await join(alice, "alice");
    await join(bob, "bob");
    await countUnreachableRpcs(alice);
    await countUnreachableRpcs(bob);
    await connect(alice, "alice", bob, "bob");

    const exited = new Promise<number | null>((resolve) => server.process.once("exit", resolve));
    server.process.kill("SIGTERM");
    expect(await exited).toBe(0);
    await server.restart();
    await expect.poll(() => connection(alice), { timeout: 10_000 }).toMatchObject({ state: "online" });
    await expect.poll(() => connection(bob), { timeout: 10_000 }).toMatchObject({ state: "online" });
    await expectMediaFlowing(alice);
    await expectMediaFlowing(bob);
    // Toggles and hang-up after the restart go through without a failed request.
    await alice.getByRole("button", { name: "Mute microphone" }).click();
    await expect(bob.getByText("alice is muted")).toBeVisible();
    await bob.getByRole("button", { name: "Hang up" }).click();
    await expect(alice.getByText("bob hung up.")).toBeVisible();
    for (const page of [alice, bob]) {
      expect(await page.evaluate(() => (window as unknown as { __unreachableRpcs: number }).__unreachableRpcs)).toBe(0);
    }
  } finally {
    await server.stop();
  }
});

test("one side offline for 10 s: the call goes on and missed signaling is replayed once, in order", async ({ openUser, server }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await recordSequence(bob);
  await connect(alice, "alice", bob, "bob");

  await bob.context().setOffline(true);
  const offlineSince = Date.now();
  // Events for bob while he is away: someone joins and leaves.
  const carol = await openUser({ url: server.url });
  await join(carol, "carol");
  await expect.poll(async () => (await connection(alice)).online).toContain("carol");
  await expect.poll(() => Date.now() - offlineSince, { timeout: 15_000, intervals: [500] }).toBeGreaterThanOrEqual(10_000);
  await bob.context().setOffline(false);

  await expect.poll(async () => (await connection(bob)).online, { timeout: 15_000 }).toContain("carol");
  await expect.poll(async () => (await connection(bob)).state).toBe("online");
  await expectMediaFlowing(bob);
  await expectMediaFlowing(alice);
  const seqs = await bob.evaluate(() => (window as unknown as { __seqs: number[] }).__seqs);
  expect(seqs.length).toBeGreaterThan(0);
  seqs.forEach((seq, i) => {
    if (i > 0) expect(seq).toBe((seqs[i - 1] ?? 0) + 1); // no gap, no duplicate
  });
});

test("reloading the tab in the lobby keeps the same ID without an 'ID taken' error", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await alice.reload();
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
  await expect(alice.getByText("Others can reach you as")).toContainText("alice");
  await expect(alice.getByRole("alert")).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Call bob" })).toBeVisible();
  await bob.getByRole("button", { name: "Call alice" }).click();
  await expect(alice.getByRole("dialog", { name: "Incoming call from bob" })).toBeVisible();
});

test("the signaling stream cut by a proxy mid-call: resume replays the gap (a renegotiation) in order, once", async ({ openUser, server }) => {
  const proxy = new TcpProxy(Number(new URL(server.url).port));
  await proxy.listen();
  try {
    const alice = await openUser();
    const bob = await openUser({ url: `http://127.0.0.1:${proxy.port}` });
    await join(alice, "alice");
    await join(bob, "bob");
    await recordSequence(bob);
    await connect(alice, "alice", bob, "bob");
    const ufragBefore = await remoteUfrag(bob);

    proxy.cutAndHold();
    await expect(bob.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible();
    // While bob's stream is down, alice restarts ICE: her offer and candidates wait in bob's
    // session, and carol comes online.
    await alice.evaluate(() => livePeerConnection().restartIce());
    const carol = await openUser();
    await join(carol, "carol");
    proxy.release();

    await expect.poll(async () => (await connection(bob)).online).toContain("carol");
    await expect(bob.getByText("Reconnecting…")).toBeHidden();
    await expect.poll(() => remoteUfrag(bob)).not.toBe(ufragBefore);
    await expectMediaFlowing(bob);
    await expectMediaFlowing(alice);
    const seqs = await bob.evaluate(() => (window as unknown as { __seqs: number[] }).__seqs);
    seqs.forEach((seq, i) => {
      if (i > 0) expect(seq).toBe((seqs[i - 1] ?? 0) + 1);
    });
  } finally {
    await proxy.close();
  }
});
