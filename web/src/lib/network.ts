import { checkNetwork } from "@peertobeer/client";

/**
 * Runs the SDK's network check with the servers the server hands out at GET /ice-servers
 * (sessions get theirs in `joined`; the check runs before joining). Resolves with the sentence
 * to show, beginning "Network:"; rejects only when aborted.
 */
export async function runNetworkCheck(signal: AbortSignal): Promise<{ summary: string; tone: "good" | "warning" | "bad" }> {
  let iceServers: RTCIceServer[];
  try {
    const response = await fetch("/ice-servers", { signal, cache: "no-store" });
    const body = (await response.json().catch(() => ({}))) as { iceServers?: RTCIceServer[]; error?: string };
    if (!response.ok || !Array.isArray(body.iceServers)) {
      return { tone: "bad", summary: `Network: could not get the STUN and TURN servers from the server (${body.error ?? `HTTP ${response.status}`})` };
    }
    iceServers = body.iceServers;
  } catch (error) {
    if (signal.aborted) throw error;
    return { tone: "bad", summary: "Network: cannot reach the Peer-to-Beer server" };
  }
  const result = await checkNetwork({ RTCPeerConnection: window.RTCPeerConnection, iceServers, signal });
  const tone = result.verdict === "good" ? "good" : result.verdict === "unreachable" ? "bad" : "warning";
  return { tone, summary: result.summary };
}
