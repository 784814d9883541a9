import { expect, type Page } from "@playwright/test";

export async function join(page: Page, userId: string): Promise<void> {
  await page.getByRole("textbox", { name: "Your ID" }).fill(userId);
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
}

export async function call(page: Page, userId: string): Promise<void> {
  await page.getByRole("textbox", { name: "Recipient ID" }).fill(userId);
  await page.getByRole("button", { name: "Call", exact: true }).click();
}

export function incomingDialog(page: Page, caller: string) {
  return page.getByRole("dialog", { name: `Incoming call from ${caller}` });
}

/** Joins both, calls, accepts; returns once media flows both ways. */
export async function connect(caller: Page, callerId: string, callee: Page, calleeId: string): Promise<void> {
  await call(caller, calleeId);
  await expect(caller.getByText(`Calling ${calleeId}…`)).toBeVisible();
  await incomingDialog(callee, callerId).getByRole("button", { name: "Accept" }).click();
  await expectMediaFlowing(caller);
  await expectMediaFlowing(callee);
}

export interface InboundStats {
  framesDecoded: number;
  audioPackets: number;
}

/** Sums inbound video frames decoded and audio packets received over the page's live peer connections. */
export function inboundStats(page: Page): Promise<InboundStats> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    let framesDecoded = 0;
    let audioPackets = 0;
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      const report = await pc.getStats();
      report.forEach((entry: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
        if (entry.type !== "inbound-rtp") return;
        if (entry.kind === "video") framesDecoded += entry.framesDecoded ?? 0;
        if (entry.kind === "audio") audioPackets += entry.packetsReceived ?? 0;
      });
    }
    return { framesDecoded, audioPackets };
  });
}

/** Media flows when decoded frames and received audio packets keep rising. */
export async function expectMediaFlowing(page: Page): Promise<void> {
  await expect.poll(async () => (await inboundStats(page)).framesDecoded).toBeGreaterThan(0);
  const before = await inboundStats(page);
  await expect.poll(async () => (await inboundStats(page)).framesDecoded).toBeGreaterThan(before.framesDecoded + 5);
  await expect.poll(async () => (await inboundStats(page)).audioPackets).toBeGreaterThan(before.audioPackets);
}

/** Video frames decoded so far on each of the page's live peer connections (one per other participant). */
export function framesPerConnection(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    const frames: number[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      let decoded = 0;
      (await pc.getStats()).forEach((entry: { type: string; kind?: string; framesDecoded?: number }) => {
        if (entry.type === "inbound-rtp" && entry.kind === "video") decoded += entry.framesDecoded ?? 0;
      });
      frames.push(decoded);
    }
    return frames;
  });
}

/**
 * The page decodes video from each of `others` (a connection per person) and the frames keep
 * coming: a tile per person, and every connection's count rises.
 */
export async function expectFramesFromEveryone(page: Page, others: readonly string[]): Promise<void> {
  for (const id of others) await expect(page.getByRole("figure", { name: id }).getByLabel("Remote video")).toBeVisible();
  await expect(page.getByRole("figure")).toHaveCount(others.length);
  await expect.poll(async () => (await framesPerConnection(page)).length).toBe(others.length);
  const before = await framesPerConnection(page);
  await expect
    .poll(async () => {
      const now = await framesPerConnection(page);
      return now.length === before.length && now.every((frames, i) => frames > (before[i] ?? 0) + 3);
    })
    .toBe(true);
}

/** The bitrate cap of the video sender on each of the page's live peer connections (undefined: none). */
export function videoBitrateCaps(page: Page): Promise<(number | undefined)[]> {
  return page.evaluate(() =>
    (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections
      .filter((pc) => pc.connectionState !== "closed")
      .map((pc) => pc.getSenders().find((s) => s.track?.kind === "video")?.getParameters().encodings[0]?.maxBitrate),
  );
}

/** `inviter`, in a call, adds `userId` with "Add person". */
export async function invite(inviter: Page, userId: string): Promise<void> {
  await inviter.getByRole("button", { name: "Add person" }).click();
  await inviter.getByRole("textbox", { name: "Person to add" }).fill(userId);
  await inviter.getByRole("button", { name: "Invite", exact: true }).click();
}

/**
 * How many tracks the "Remote video" element is bound to. While a call rings it is already
 * bound (to tracks still silent), so that Accept does not wait on setting up its player.
 */
export function remoteVideoTracks(page: Page): Promise<number> {
  return page.evaluate(() => {
    const stream = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]')?.srcObject;
    return stream instanceof MediaStream ? stream.getTracks().length : 0;
  });
}

/** The <video> labelled `label` shows frames: one is presented after we start looking. */
export async function expectVideoPlaying(page: Page, label: string): Promise<void> {
  await expect(page.getByLabel(label)).toBeVisible();
  const presented = await page.evaluate(
    ({ selector, timeoutMs }) =>
      new Promise<string>((resolve) => {
        const video = document.querySelector<HTMLVideoElement>(selector);
        if (!video) return resolve("no such video");
        const timer = setTimeout(() => resolve(`no frame presented within ${timeoutMs} ms`), timeoutMs);
        video.requestVideoFrameCallback(() => {
          clearTimeout(timer);
          resolve("presented");
        });
      }),
    { selector: `video[aria-label="${label}"]`, timeoutMs: 15_000 },
  );
  expect(presented, `${label}`).toBe("presented");
}

/** The first local track of `kind`, as the page's "Local video" element shows it. */
export function localTrackEnabled(page: Page, kind: "audio" | "video"): Promise<boolean | undefined> {
  return page.evaluate((k) => {
    const video = document.querySelector<HTMLVideoElement>('video[aria-label="Local video"]');
    const stream = video?.srcObject as MediaStream | null | undefined;
    return stream?.getTracks().find((t) => t.kind === k)?.enabled;
  }, kind);
}

/** The ICE username fragment of the page's live peer connection's remote description. */
export function remoteUfrag(page: Page): Promise<string | undefined> {
  return page.evaluate(() => /a=ice-ufrag:(\S+)/.exec(livePeerConnection().remoteDescription?.sdp ?? "")?.[1]);
}

/** How much the live peer connection's video sender scales the camera down (1: not at all). */
export function videoSenderScale(page: Page): Promise<number> {
  return page.evaluate(() => {
    const sender = livePeerConnection()
      .getSenders()
      .find((s) => s.track?.kind === "video");
    return sender?.getParameters().encodings[0]?.scaleResolutionDownBy ?? 1;
  });
}

/** The codecs (rtpmap names, with H.264's profile-level-id) in the live peer connection's local and remote descriptions. */
export function negotiatedCodecs(page: Page): Promise<{ local: string[]; remote: string[] }> {
  return page.evaluate(() => {
    const codecsOf = (sdp: string | undefined) => {
      const h264Profiles = new Map([...(sdp ?? "").matchAll(/a=fmtp:(\d+) .*profile-level-id=(\w+)/g)].map((m) => [m[1], m[2]]));
      return [...(sdp ?? "").matchAll(/a=rtpmap:(\d+) ([\w-]+)\//g)].map(([, pt, name]) =>
        name === "H264" ? `H264 ${h264Profiles.get(pt ?? "") ?? "?"}` : (name ?? ""),
      );
    };
    const pc = livePeerConnection();
    return { local: codecsOf(pc.localDescription?.sdp), remote: codecsOf(pc.remoteDescription?.sdp) };
  });
}

/** Opens and joins one page per ID, with the small camera four pages on two cores need. */
export async function people(openUser: (options: { smallVideo: boolean }) => Promise<Page>, ...ids: string[]): Promise<Page[]> {
  const pages: Page[] = [];
  for (const id of ids) {
    const page = await openUser({ smallVideo: true });
    await join(page, id);
    pages.push(page);
  }
  return pages;
}

/** `invitee` is rung by `inviter` into a call with `others`, and accepts. */
export async function acceptInvitation(invitee: Page, inviter: string, others: string): Promise<void> {
  const dialog = incomingDialog(invitee, inviter);
  await expect(dialog).toBeVisible();
  await expect(dialog.getByText(`with ${others}`)).toBeVisible();
  await dialog.getByRole("button", { name: "Accept" }).click();
}
