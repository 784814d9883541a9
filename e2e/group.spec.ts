import { test } from "./fixtures.js";
import { GROUP_SCENARIOS } from "./group-scenarios.js";

for (const scenario of GROUP_SCENARIOS) {
  test(scenario.title, async ({ openUser }) => scenario.run(openUser));
}
