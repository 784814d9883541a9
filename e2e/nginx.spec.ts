import { expect, test } from "./fixtures.js";
import { connect, expectMediaFlowing, join } from "./helpers.js";
import { startNginx } from "./nginx.js";

test("a call through nginx with the shipped configuration: media both ways, the stream lives on, hang-up arrives", async ({ openUser, server }) => {
  const nginx = await startNginx(Number(new URL(server.url).port));
  try {
    const alice = await openUser({ url: nginx.url });
    const bob = await openUser({ url: nginx.url });
    await join(alice, "alice");
    await join(bob, "bob");
    await expect(alice.getByRole("button", { name: "Call bob" })).toBeVisible();
    await connect(alice, "alice", bob, "bob");
    await expectMediaFlowing(alice);
    await bob.getByRole("button", { name: "Hang up" }).click();
    await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
    // Nothing was buffered or cut on the way: both are still online, without a reconnect.
    await expect(alice.getByText("Reconnecting…")).toHaveCount(0);
    await expect(bob.getByRole("button", { name: "Call alice" })).toBeVisible();
  } finally {
    await nginx.stop();
  }
});
