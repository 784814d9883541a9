import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { LIMITS } from "@peertobeer/protocol";

export interface GrpcTransportOptions<S extends DescService> {
  service: S;
  handlers: ServiceImpl<S>;
  shutdownSignal: AbortSignal;
  onInternalError: (error: unknown, method: string) => void;
}

/**
 * Native gRPC (HTTP/2) for Envoy, bots and stock grpc-js clients. It mounts the same Connect
 * handlers as the web port: only framing and status mapping live here.
 */
export function createGrpcServer<S extends DescService>(options: GrpcTransportOptions<S>): grpc.Server {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": LIMITS.messageMaxBytes,
    // Keep idle signaling streams alive through NATs and proxies, and notice dead peers.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of options.service.methods) {
    definition[method.name] = {
      path: `/${options.service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (value: unknown) => encode(method.input, value),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (value: unknown) => encode(method.output, value),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  server.addService(definition, implementation(options));
  return server;
}

function encode(schema: DescMessage, value: unknown): Buffer {
  const message = create(schema, value as Parameters<typeof create>[1]);
  return Buffer.from(toBinary(schema, message));
}

function implementation<S extends DescService>(options: GrpcTransportOptions<S>): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  const handlers = options.handlers as Record<string, (request: unknown, context: HandlerContext) => unknown>;
  for (const method of options.service.methods) {
    const handler = handlers[method.localName];
    if (!handler) throw new Error(`no handler for ${method.name}`);
    const toStatus = (error: unknown) => statusOf(error, method, options.onInternalError);
    if (method.methodKind === "unary") {
      const unary: grpc.handleUnaryCall<unknown, unknown> = (call, callback) => {
        const context = contextFor(options.service, method, call, options.shutdownSignal);
        Promise.resolve()
          .then(() => handler(call.request, context))
          .then(
            (response) => callback(null, response),
            (error: unknown) => callback(toStatus(error)),
          )
          .finally(() => context.abort());
      };
      impl[method.name] = unary;
    } else if (method.methodKind === "server_streaming") {
      const streaming: grpc.handleServerStreamingCall<unknown, unknown> = (call) => {
        const context = contextFor(options.service, method, call, options.shutdownSignal);
        void (async () => {
          try {
            for await (const message of handler(call.request, context) as AsyncIterable<unknown>) {
              if (call.cancelled) break;
              // Respect backpressure: a slow reader stops the generator, so the hub's bounded
              // queue (not this socket) decides when it is cut off.
              if (!call.write(message)) await once(call, "drain", { signal: context.signal });
            }
            if (!call.cancelled) call.end();
          } catch (error) {
            if (!call.cancelled) call.emit("error", toStatus(error));
          } finally {
            context.abort();
          }
        })();
      };
      impl[method.name] = streaming;
    }
  }
  return impl;
}

function contextFor(
  service: DescService,
  method: DescMethod,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  shutdownSignal: AbortSignal,
) {
  const requestHeader = new Headers();
  for (const [key, value] of Object.entries(call.metadata.getMap())) {
    if (typeof value === "string") requestHeader.set(key, value);
  }
  const requestAbort = new AbortController();
  call.once("cancelled", () => requestAbort.abort());
  return createHandlerContext({
    service,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: call.getPath(),
    requestHeader,
    requestSignal: requestAbort.signal,
    shutdownSignal,
  });
}

/** Connect errors keep their code and reason trailers; anything else is INTERNAL, logged. */
function statusOf(
  error: unknown,
  method: DescMethod,
  onInternalError: (error: unknown, method: string) => void,
): Partial<grpc.StatusObject> {
  const connectError = ConnectError.from(error);
  if (connectError.code === Code.Internal || connectError.code === Code.Unknown) {
    onInternalError(error, method.name);
  }
  const metadata = new grpc.Metadata();
  connectError.metadata.forEach((value, key) => metadata.set(key, value));
  return { code: connectError.code as number as grpc.status, details: connectError.rawMessage, metadata };
}
