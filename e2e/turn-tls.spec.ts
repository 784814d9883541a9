import { relayedCall, test } from "./turn-fixtures.js";

// For networks that let little but HTTPS-like traffic out: TURN over TLS (turns:), no UDP.
test.use({ turnSetup: { transport: "tls" } });

test("a relay-only call whose only TURN URL is turns: (TLS) carries media both ways", async ({ openUser }) => {
  await relayedCall(await openUser(), await openUser(), "tls");
});
