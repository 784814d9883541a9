import { relayedCall, test } from "./turn-fixtures.js";

// For networks that drop UDP: coturn listens on TCP only, and the one TURN URL says TCP.
test.use({ turnSetup: { transport: "tcp" } });

test("a relay-only call whose only TURN URL is TURN over TCP carries media both ways", async ({ openUser }) => {
  await relayedCall(await openUser(), await openUser(), "tcp");
});
