import { expect, networkResult, openCheck, test } from "./precall-fixtures.js";

// The pre-call check when the server mints TURN credentials coturn refuses (a wrong TURN_SECRET).
test.use({ servers: "wrong-turn-secret" });

test("says that direct connections work but the relay does not, and why", async ({ openUser }) => {
  const page = await openUser();
  await openCheck(page);
  await expect(networkResult(page)).toHaveText(
    "Network: direct connections work, but the relay (TURN) does not (the relay refused the credentials) — calls from strict networks may fail",
  );
});
