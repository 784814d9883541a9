import { expect, type Page } from "@playwright/test";

/** The "Call statistics" panel, opened from the call controls. */
export async function openStats(page: Page) {
  await page.getByRole("button", { name: "Call statistics", exact: true }).click();
  const panel = page.getByRole("region", { name: "Call statistics" });
  await expect(panel).toBeVisible();
  return panel;
}

/** A bitrate as the panel shows it ("850 kbit/s", "1.2 Mbit/s"), in bit/s. */
export function parseBitrate(text: string): number | undefined {
  const match = /([\d.]+)\s*(k|M)bit\/s/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (match[2] === "M" ? 1_000_000 : 1_000);
}

/** The bitrates in and out the open panel shows now (0 when it shows none yet). */
export async function shownBitrates(page: Page): Promise<{ in: number; out: number }> {
  const group = page.getByRole("region", { name: "Call statistics" }).getByRole("group", { name: "Bitrate" });
  if ((await group.count()) === 0) return { in: 0, out: 0 };
  const text = await group.innerText();
  const [, inText = "", outText = ""] = /In([\s\S]*?)Out([\s\S]*)/.exec(text) ?? [];
  return { in: parseBitrate(inText) ?? 0, out: parseBitrate(outText) ?? 0 };
}

/** The panel shows a bitrate above zero both ways. */
export async function expectBitrateBothWays(page: Page): Promise<void> {
  await expect.poll(async () => (await shownBitrates(page)).in).toBeGreaterThan(0);
  await expect.poll(async () => (await shownBitrates(page)).out).toBeGreaterThan(0);
}

/** The network-quality indicator on `userId`'s tile has a grade. */
export async function expectQualityIndicator(page: Page, userId: string): Promise<void> {
  await expect(page.getByRole("figure", { name: userId }).getByRole("img", { name: /^Connection: (good|fair|poor)/ })).toBeVisible();
}
