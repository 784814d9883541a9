import { expect, networkResult, openCheck, test } from "./precall-fixtures.js";

// The pre-call check when the only STUN server configured does not answer (nothing listens on
// its port): Chromium gets no answer, and the check gives up after its timeout.
test.use({ servers: "unreachable-stun" });

test("says the STUN server cannot be reached", async ({ openUser }) => {
  const page = await openUser();
  await openCheck(page);
  await expect(networkResult(page)).toHaveText("Network: cannot reach the STUN server — calls may fail on other networks");
});
