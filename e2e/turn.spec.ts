import { relayedCall, test } from "./turn-fixtures.js";

test("with only the TURN relay allowed, the call connects through coturn with credentials minted per session", async ({ openUser }) => {
  await relayedCall(await openUser(), await openUser(), "udp");
});
