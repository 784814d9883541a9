/**
 * Captures the signaling payload of one real Chromium call (audio + video from the fake
 * camera/microphone, no ICE servers, max-bundle, the SDK's codec preferences) into
 * bench/fixtures/chromium-call.json, so both benchmarked systems relay exactly the SDP and
 * candidate sizes a browser produces.
 *
 * Run by hand when Chromium changes enough to matter: `node --import tsx bench/capture-fixture.ts`.
 * The bench only reads the committed fixture.
 */
import { writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { preferredCodecs } from "@peertobeer/client";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/support/chromium.js";
import { callBursts, FIXTURE_PATH, type CallFixture, type FixtureCandidate } from "./lib/fixture.js";

const CAPTURES = 7;

/** getUserMedia needs a secure context; http://127.0.0.1 is one. */
async function startBlankPage(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>capture</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface PageCapture {
  userAgent: string;
  offer: string;
  answer: string;
  callerCandidates: FixtureCandidate[];
  calleeCandidates: FixtureCandidate[];
  callerEndAtMs: number;
  calleeEndAtMs: number;
}

/** The codecs each side negotiates, per kind: what the SDK's preferredCodecs() keeps. */
type Preferred = Record<"audio" | "video", RTCRtpCodec[]>;

/** Runs in the page: a loopback call between two RTCPeerConnections, recording what signaling would carry. */
async function captureInPage(preferred: Preferred): Promise<PageCapture> {
  // As PeerCall does before every offer and answer.
  const preferCodecs = (pc: RTCPeerConnection) => {
    for (const t of pc.getTransceivers()) t.setCodecPreferences(preferred[t.receiver.track.kind as "audio" | "video"]);
  };
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const config: RTCConfiguration = { iceServers: [], bundlePolicy: "max-bundle" };
  const caller = new RTCPeerConnection(config);
  const callee = new RTCPeerConnection(config);
  // When each side's setLocalDescription() resolved, which is when the SDK queues the description
  // and starts waiting for the end of gathering: candidate times are relative to it (a candidate
  // the browser fires before the promise resolves comes out negative).
  const began = new Map<RTCPeerConnection, number>();
  const since = (pc: RTCPeerConnection) => Math.round((performance.now() - (began.get(pc) ?? 0)) * 10) / 10;
  /** Records `pc`'s candidates; resolves with when its gathering ended. */
  const record = (pc: RTCPeerConnection, into: FixtureCandidate[]) =>
    new Promise<number>((resolve) => {
      pc.addEventListener("icecandidate", (event) => {
        if (!event.candidate) {
          resolve(since(pc));
          return;
        }
        const c = event.candidate.toJSON();
        into.push({
          candidate: c.candidate ?? "",
          sdpMid: c.sdpMid ?? null,
          sdpMLineIndex: c.sdpMLineIndex ?? null,
          usernameFragment: c.usernameFragment ?? null,
          atMs: since(pc),
        });
      });
    });
  const callerCandidates: FixtureCandidate[] = [];
  const calleeCandidates: FixtureCandidate[] = [];
  const callerDone = record(caller, callerCandidates);
  const calleeDone = record(callee, calleeCandidates);
  for (const track of media.getTracks()) caller.addTrack(track, media);
  preferCodecs(caller);

  // As in a real call, each side gathers to the end before the other side connects: the caller
  // while the callee rings, the callee while it rings (its answer is prepared then). Chromium
  // stops gathering once a connection works, so a call connected at once would gather less.
  const offer = await caller.createOffer();
  began.set(caller, performance.now());
  await caller.setLocalDescription(offer);
  began.set(caller, performance.now());
  const callerEndAtMs = await callerDone;
  await callee.setRemoteDescription(offer);
  const answerMedia = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  for (const track of answerMedia.getTracks()) callee.addTrack(track, answerMedia);
  preferCodecs(callee);
  const answer = await callee.createAnswer();
  began.set(callee, performance.now());
  await callee.setLocalDescription(answer);
  began.set(callee, performance.now());
  const calleeEndAtMs = await calleeDone;
  await caller.setRemoteDescription(answer);
  await Promise.all([
    ...callerCandidates.map((c) => callee.addIceCandidate(c)),
    ...calleeCandidates.map((c) => caller.addIceCandidate(c)),
  ]);
  const connected = (pc: RTCPeerConnection) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === "connected") resolve();
        else if (pc.connectionState === "failed") reject(new Error("the loopback call failed to connect"));
      };
      pc.addEventListener("connectionstatechange", check);
      check();
    });
  await Promise.all([connected(caller), connected(callee)]);
  caller.close();
  callee.close();
  for (const track of [...media.getTracks(), ...answerMedia.getTracks()]) track.stop();
  return {
    userAgent: navigator.userAgent,
    offer: offer.sdp ?? "",
    answer: answer.sdp ?? "",
    callerCandidates,
    calleeCandidates,
    callerEndAtMs,
    calleeEndAtMs,
  };
}

async function main(): Promise<void> {
  const page = await startBlankPage();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  try {
    const tab = await browser.newPage();
    // tsx (esbuild keepNames) wraps named functions in __name(); the page has no such helper.
    await tab.addInitScript("globalThis.__name = (fn) => fn;");
    await tab.goto(page.url);
    const capabilities = await tab.evaluate(() => ({
      audio: RTCRtpReceiver.getCapabilities("audio")?.codecs ?? [],
      video: RTCRtpReceiver.getCapabilities("video")?.codecs ?? [],
    }));
    const preferred: Preferred = { audio: preferredCodecs(capabilities.audio), video: preferredCodecs(capabilities.video) };
    // Gathering times vary from call to call; keep the call whose burst count is the median.
    const calls: PageCapture[] = [];
    for (let i = 0; i < CAPTURES; i++) calls.push(await tab.evaluate(captureInPage, preferred));
    const bursts = (c: PageCapture) => {
      const { caller, callee } = callBursts(c);
      return caller.length + callee.length;
    };
    const captured = [...calls].sort((a, b) => bursts(a) - bursts(b))[Math.floor(CAPTURES / 2)] as PageCapture;
    console.log(`bursts per call over ${CAPTURES} captures: ${calls.map(bursts).join(", ")}; kept one with ${bursts(captured)}`);
    console.log(`gathering ended after (caller/callee, ms): ${calls.map((c) => `${c.callerEndAtMs}/${c.calleeEndAtMs}`).join(", ")}`);
    const fixture: CallFixture = {
      capturedAt: new Date().toISOString(),
      browser: `Chromium ${browser.version()}`,
      userAgent: captured.userAgent,
      setup:
        "two RTCPeerConnections in one page, fake camera + microphone (audio + video), no ICE servers, bundlePolicy max-bundle, " +
        "codecs trimmed as the SDK does (preferredCodecs), each side gathering to the end before the other applies its description",
      offer: { type: "offer", sdp: captured.offer },
      answer: { type: "answer", sdp: captured.answer },
      callerCandidates: captured.callerCandidates,
      calleeCandidates: captured.calleeCandidates,
      callerEndAtMs: captured.callerEndAtMs,
      calleeEndAtMs: captured.calleeEndAtMs,
    };
    await writeFile(FIXTURE_PATH, `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(
      `wrote ${FIXTURE_PATH}: offer ${fixture.offer.sdp.length} B, answer ${fixture.answer.sdp.length} B, ` +
        `${fixture.callerCandidates.length} caller / ${fixture.calleeCandidates.length} callee candidates ` +
        `(gathering ended after ${fixture.callerEndAtMs} / ${fixture.calleeEndAtMs} ms)`,
    );
  } finally {
    await browser.close();
    await page.close();
  }
}

await main();
