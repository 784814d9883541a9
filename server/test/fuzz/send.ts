/**
 * Sending a fuzz request over one of the transports, what came back, and the tallies printed
 * once a run is over.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_KEY } from "@peertobeer/protocol";
import type { Clients, SignalingClient } from "../helpers.js";
import { unaryMessageOf, userRequestOf } from "./messages.js";
import type { FuzzRequest, Refusal } from "./model.js";

export interface Observed {
  /** "OK", or the gRPC status name. */
  code: string;
  reason: string | null;
  callId: string | null;
}

const STATUS_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(Code)) {
  if (typeof value === "number") STATUS_NAMES[value] = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function statusName(code: Code): string {
  return STATUS_NAMES[code] ?? `CODE_${code}`;
}

export function observedOf(error: unknown): Observed {
  const connectError = ConnectError.from(error);
  return {
    code: statusName(connectError.code),
    reason: connectError.metadata.get(ERROR_REASON_KEY),
    callId: connectError.metadata.get("p2b-call-id"),
  };
}

/** How a status is counted in the figures: `CODE/REASON`, or the code alone. */
export function statusLabel(observed: Pick<Observed, "code" | "reason">): string {
  return observed.reason ? `${observed.code}/${observed.reason}` : observed.code;
}

export function expectedView(refusal: Refusal): Observed {
  return { code: statusName(refusal.code), reason: refusal.reason, callId: refusal.callId ?? null };
}

const REQUEST_TIMEOUT_MS = 10_000;

export async function send(clients: Clients, request: FuzzRequest): Promise<Observed> {
  const client: SignalingClient = clients[request.transport];
  const ok: Observed = { code: "OK", reason: null, callId: null };
  try {
    if (request.method === "joinCall") {
      const controller = new AbortController();
      const stream = client.joinCall(userRequestOf(request), { signal: controller.signal, timeoutMs: REQUEST_TIMEOUT_MS });
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      // It was let in: close the stream again (the test fails on the "OK" anyway).
      controller.abort();
      await iterator.return?.();
      return ok;
    }
    const header = request.auth.header;
    const options = { timeoutMs: REQUEST_TIMEOUT_MS, ...(header === undefined ? {} : { headers: { authorization: header } }) };
    const sent = unaryMessageOf(request);
    switch (sent.method) {
      case "sendOffer":
        await client.sendOffer(sent.message, options);
        break;
      case "sendAnswer":
        await client.sendAnswer(sent.message, options);
        break;
      case "sendIceCandidate":
        await client.sendIceCandidate(sent.message, options);
        break;
      case "endCall":
        await client.endCall(sent.message, options);
        break;
    }
    return ok;
  } catch (error) {
    return observedOf(error);
  }
}

/** Counts and histograms, printed once so the figures can be quoted. */
export class Tally {
  tried = 0;
  readonly byTransport = new Map<string, number>();
  readonly byMethod = new Map<string, number>();
  readonly statuses = new Map<string, number>();
  readonly authKinds = new Map<string, number>();
  mismatches = 0;

  record(request: FuzzRequest, observed: Observed, matched: boolean): void {
    this.tried += 1;
    bump(this.byTransport, request.transport);
    bump(this.byMethod, request.method);
    bump(this.statuses, statusLabel(observed));
    if (request.method !== "joinCall") bump(this.authKinds, request.auth.label);
    if (!matched) this.mismatches += 1;
  }
}

export function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function sorted(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map.entries()].sort((a, b) => b[1] - a[1]));
}
