import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ErrorReason, SignalingService, type SignalingMessage } from "@peertobeer/protocol";
import type { Sink } from "../hub/index.js";
import { NO_RPC_METRICS, type RpcMetrics } from "../metrics.js";
import { rpcError } from "./errors.js";
import { createSignaling, type Signaling, type SignalingDeps, type UnaryHandler } from "./signaling.js";
import { StreamQueue } from "./stream-queue.js";

export interface HandlerDeps extends SignalingDeps {
  config: SignalingDeps["config"] & { streamQueueLimit: number };
}

/**
 * The SignalingService as Connect handlers, for connect-node (the Connect protocol and
 * gRPC-Web text on the web port) and Connect's in-memory transport in tests. The hot paths,
 * binary gRPC-Web and native gRPC, call `Signaling` directly (transport/grpc-web.ts, grpc.ts).
 */
export function createSignalingHandlers(
  deps: HandlerDeps,
  signaling: Signaling = createSignaling(deps),
  metrics: RpcMetrics = NO_RPC_METRICS,
): ServiceImpl<typeof SignalingService> {
  const unary =
    <Req>(handler: UnaryHandler<Req>) =>
    (request: Req, context: HandlerContext) =>
      handler(request, context.requestHeader.get("authorization") ?? undefined);

  return {
    async *joinCall(request, context): AsyncGenerator<SignalingMessage> {
      const queue = new StreamQueue<SignalingMessage>(deps.config.streamQueueLimit);
      const sink: Sink = {
        push: (message) => {
          queue.push(message, () =>
            rpcError(Code.ResourceExhausted, ErrorReason.SLOW_READER, "Too many unread messages; stream closed."),
          );
        },
        replay: (messages) => queue.pushAll(messages),
        end: () => queue.end(),
      };
      const session = await signaling.joinCall(request, sink);
      const onAbort = () => queue.end();
      context.signal.addEventListener("abort", onAbort, { once: true });
      if (context.signal.aborted) onAbort();
      metrics.trackStream(queue);
      try {
        yield* queue;
      } finally {
        metrics.untrackStream(queue);
        context.signal.removeEventListener("abort", onAbort);
        signaling.streamEnded(session, sink);
      }
    },
    sendOffer: unary(signaling.sendOffer),
    sendAnswer: unary(signaling.sendAnswer),
    sendIceCandidate: unary(signaling.sendIceCandidate),
    endCall: unary(signaling.endCall),
  };
}
