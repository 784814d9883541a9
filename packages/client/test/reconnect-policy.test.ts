import { describe, expect, it } from "vitest";
import { DefaultReconnectPolicy } from "../src/index.js";

describe("DefaultReconnectPolicy", () => {
  it("follows 0, 300, 1200, 2700, 4800, then 7000 ms", () => {
    const exact = new DefaultReconnectPolicy(() => 0.5); // jitter factor 1.0
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => exact.nextDelay(n))).toEqual([0, 300, 1200, 2700, 4800, 7000, 7000, 7000]);
  });

  it("jitters every delay but the first by at most ±20%", () => {
    const low = new DefaultReconnectPolicy(() => 0);
    const high = new DefaultReconnectPolicy(() => 0.999999);
    expect(low.nextDelay(0)).toBe(0);
    expect(low.nextDelay(5)).toBe(5600);
    expect(high.nextDelay(5)).toBe(8400);
    expect(low.nextDelay(1)).toBe(240);
  });
});
