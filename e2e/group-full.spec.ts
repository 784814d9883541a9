import { test } from "./fixtures.js";
import { FULL_CALL_SCENARIO } from "./group-scenarios.js";

test.use({ serverEnv: { MAX_CALL_PARTICIPANTS: "3" } });

test(FULL_CALL_SCENARIO.title, async ({ openUser }) => FULL_CALL_SCENARIO.run(openUser));
