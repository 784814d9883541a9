import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, invite, join, people, remoteUfrag } from "./helpers.js";

/** The page's chat log as the SDK holds it: "sender: text", oldest first. */
function chatLog(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const { phone } = (window as unknown as { peertobeer: { phone: { chat: { getMessages(): { from: string; text: string }[] } } } }).peertobeer;
    return phone.chat.getMessages().map((m) => `${m.from}: ${m.text}`);
  });
}

/** Sends through the SDK, as the panel's Send does, without the time typing takes. */
function sendChat(page: Page, text: string): Promise<boolean> {
  return page.evaluate((t) => {
    const { phone } = (window as unknown as { peertobeer: { phone: { sendChat(text: string): { ok: boolean } } } }).peertobeer;
    return phone.sendChat(t).ok;
  }, text);
}

const chatButton = (page: Page) => page.getByRole("button", { name: "Chat" });
const messages = (page: Page) => page.getByRole("log", { name: "Chat messages" }).getByRole("listitem");

test("a chat message arrives once, with the sender's name; unread counts while the panel is closed", async ({ openUser }) => {
  const [alice, bob] = await people(openUser, "alice", "bob");
  if (!alice || !bob) throw new Error("no pages");
  await connect(alice, "alice", bob, "bob");

  await expect(bob.getByRole("button", { name: "Chat", exact: true })).toBeVisible();
  await chatButton(alice).click();
  const box = alice.getByRole("textbox", { name: "Message" });
  await expect(box).toBeFocused();

  // Bad input: nothing is sent for an empty message, and a long one is refused, visibly.
  await expect(alice.getByRole("button", { name: "Send" })).toBeDisabled();
  await box.press("Enter");
  await box.fill("x".repeat(2_001));
  await expect(alice.getByRole("alert").filter({ hasText: "Too long to send: 2,001 of 2,000 characters" })).toBeVisible();
  await expect(alice.getByRole("button", { name: "Send" })).toBeDisabled();
  await box.press("Enter");
  expect(await chatLog(alice)).toEqual([]);

  await box.fill("Hello bob 🍺");
  await box.press("Enter");
  await expect(box).toHaveValue("");
  await expect(bob.getByRole("button", { name: "Chat (1 unread)" })).toBeVisible();
  // And a preview of it over the video, announced to screen readers.
  await expect(bob.getByRole("status").filter({ hasText: "New message from alice: Hello bob 🍺" })).toBeVisible();
  await box.fill("Line one\nline two");
  await alice.getByRole("button", { name: "Send" }).click();
  await expect(bob.getByRole("button", { name: "Chat (2 unread)" })).toBeVisible();
  // The count shows on the button too, not only in its name.
  await expect(chatButton(bob)).toContainText("2");

  await chatButton(bob).click();
  await expect(bob.getByRole("button", { name: "Chat", exact: true })).toBeVisible();
  await expect(bob.getByRole("status").filter({ hasText: "New message from" })).toBeHidden();
  await expect(messages(bob)).toHaveCount(2);
  await expect(messages(bob).nth(0)).toContainText("alice");
  await expect(messages(bob).nth(0)).toContainText("Hello bob 🍺");
  await expect(messages(bob).nth(1)).toContainText("Line one\nline two");
  // Alice sees her own, as hers, delivered.
  await expect(messages(alice).nth(0)).toContainText("You");
  await expect(alice.getByText("Sending…")).toHaveCount(0);

  // A reply; after it, still exactly one of each on both sides.
  await bob.getByRole("textbox", { name: "Message" }).fill("Hi alice!");
  await bob.getByRole("button", { name: "Send" }).click();
  await expect(alice.getByRole("log", { name: "Chat messages" }).getByText("Hi alice!")).toBeVisible();
  expect(await chatLog(bob)).toEqual(["alice: Hello bob 🍺", "alice: Line one\nline two", "bob: Hi alice!"]);
  expect(await chatLog(alice)).toEqual(["alice: Hello bob 🍺", "alice: Line one\nline two", "bob: Hi alice!"]);

  // Escape closes the panel and focus goes back to the Chat button.
  await bob.getByRole("textbox", { name: "Message" }).press("Escape");
  await expect(bob.getByRole("region", { name: "Chat" })).toBeHidden();
  await expect(chatButton(bob)).toBeFocused();
});

test("messages sent before, during and after an ICE restart arrive exactly once and in order", async ({ openUser }) => {
  const [alice, bob] = await people(openUser, "alice", "bob");
  if (!alice || !bob) throw new Error("no pages");
  await connect(alice, "alice", bob, "bob");
  await chatButton(bob).click();

  for (const text of ["before 1", "before 2"]) expect(await sendChat(alice, text)).toBe(true);
  expect(await sendChat(bob, "bob before")).toBe(true);
  const ufrag = await remoteUfrag(bob);
  // Alice restarts ICE and both keep writing while the new checks run.
  await alice.evaluate(() => livePeerConnection().restartIce());
  for (const text of ["during 1", "during 2", "during 3"]) expect(await sendChat(alice, text)).toBe(true);
  expect(await sendChat(bob, "bob during")).toBe(true);
  await expect.poll(() => remoteUfrag(bob)).not.toBe(ufrag);
  await expect.poll(() => bob.evaluate(() => livePeerConnection().connectionState)).toBe("connected");
  expect(await sendChat(alice, "after")).toBe(true);
  expect(await sendChat(bob, "bob after")).toBe(true);

  const fromAlice = ["before 1", "before 2", "during 1", "during 2", "during 3", "after"].map((t) => `alice: ${t}`);
  const fromBob = ["bob before", "bob during", "bob after"].map((t) => `bob: ${t}`);
  const only = (log: string[], who: string) => log.filter((line) => line.startsWith(`${who}: `));
  await expect.poll(async () => only(await chatLog(bob), "alice")).toEqual(fromAlice);
  await expect.poll(async () => only(await chatLog(alice), "bob")).toEqual(fromBob);
  // On screen too: once each, in order.
  await expect(messages(bob).filter({ hasText: "during 2" })).toHaveCount(1);
  await expect(messages(bob)).toHaveCount(fromAlice.length + fromBob.length);
  // Everything acknowledged: nothing left waiting to be re-sent.
  await expect(bob.getByText("Sending…")).toHaveCount(0);
  await chatButton(alice).click();
  await expect(alice.getByText("Sending…")).toHaveCount(0);
  expect(only(await chatLog(bob), "alice")).toEqual(fromAlice);
});

test("in a three-person call a message reaches both others, each named", async ({ openUser }) => {
  // Three pages encoding and decoding two streams each, as in group.spec.ts.
  test.setTimeout(120_000);
  const [alice, bob, carol] = await people(openUser, "alice", "bob", "carol");
  if (!alice || !bob || !carol) throw new Error("no pages");
  await connect(alice, "alice", bob, "bob");
  await invite(alice, "carol");
  await acceptInvitation(carol, "alice", "bob");
  await expectFramesFromEveryone(carol, ["alice", "bob"]);
  await expectFramesFromEveryone(alice, ["bob", "carol"]);

  await chatButton(bob).click();
  await expect(bob.getByRole("textbox", { name: "Message" })).toHaveAttribute("placeholder", "Message everyone");
  await bob.getByRole("textbox", { name: "Message" }).fill("Hi both");
  await bob.getByRole("button", { name: "Send" }).click();
  await expect(alice.getByRole("button", { name: "Chat (1 unread)" })).toBeVisible();
  await expect(carol.getByRole("button", { name: "Chat (1 unread)" })).toBeVisible();
  expect(await sendChat(carol, "Hi from carol")).toBe(true);
  await expect.poll(() => chatLog(alice)).toEqual(["bob: Hi both", "carol: Hi from carol"]);
  await expect.poll(() => chatLog(bob)).toEqual(["bob: Hi both", "carol: Hi from carol"]);
  await expect.poll(() => chatLog(carol)).toEqual(["bob: Hi both", "carol: Hi from carol"]);
  await chatButton(carol).click();
  await expect(messages(carol).nth(0)).toContainText("bob");
  await expect(messages(carol).nth(0)).toContainText("Hi both");
});

test("keyboard shortcuts: M mutes, V turns the camera off, C opens the chat, ? lists them; none fire while typing; a call timer runs", async ({
  openUser,
}) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");

  const timer = alice.getByRole("timer", { name: "Call duration" });
  await expect(timer).toHaveText(/^\d\d:\d\d$/);
  await expect(timer).not.toHaveText("00:00");

  await alice.keyboard.press("m");
  await expect(alice.getByRole("button", { name: "Unmute microphone" })).toBeVisible();
  await expect(bob.getByText("alice is muted")).toBeVisible();
  await alice.keyboard.press("m");
  await expect(alice.getByRole("button", { name: "Mute microphone" })).toBeVisible();
  await alice.keyboard.press("v");
  await expect(alice.getByRole("button", { name: "Turn camera on" })).toBeVisible();
  await alice.keyboard.press("v");
  await expect(alice.getByRole("button", { name: "Turn camera off" })).toBeVisible();

  await alice.keyboard.press("?");
  const help = alice.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(help).toBeVisible();
  for (const action of ["Mute or unmute the microphone", "Turn the camera off or on", "Open or close the chat", "Hang up"]) {
    await expect(help.getByText(action)).toBeVisible();
  }
  // While the dialog is open the call's shortcuts rest.
  await alice.keyboard.press("m");
  await alice.keyboard.press("Escape");
  await expect(help).toBeHidden();
  await expect(alice.getByRole("button", { name: "Mute microphone" })).toBeVisible();

  // C opens the chat with the cursor in the box; what is typed there is text, not shortcuts.
  await alice.keyboard.press("c");
  const box = alice.getByRole("textbox", { name: "Message" });
  await expect(box).toBeFocused();
  await alice.keyboard.type("mvc?");
  await expect(box).toHaveValue("mvc?");
  await expect(alice.getByRole("button", { name: "Mute microphone" })).toBeVisible();
  await expect(alice.getByRole("button", { name: "Turn camera off" })).toBeVisible();
  await expect(help).toBeHidden();

  // Hanging up takes a chord, not a single stray key.
  await alice.keyboard.press("Escape");
  await alice.keyboard.press("h");
  await expect(alice.getByRole("button", { name: "Hang up" })).toBeVisible();
  await alice.keyboard.press("Control+Shift+H");
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
  await expect(bob.getByRole("status").filter({ hasText: "alice hung up." })).toBeVisible();
});
