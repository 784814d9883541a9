/**
 * Request/response over the Node IPC channel between the orchestrator and its children (servers
 * under test and load generators). A child calls `serve()` with one handler per method and
 * announces itself ready; the parent drives it through `Child` (lib/child.ts).
 */

/** Method name → params and result; each child kind declares one. */
export type MethodMap = Record<string, { params: unknown; result: unknown }>;

export type Handlers<M extends MethodMap> = {
  [K in keyof M]: (params: M[K]["params"]) => Promise<M[K]["result"]> | M[K]["result"];
};

export interface IpcRequest {
  kind: "request";
  id: number;
  method: string;
  params: unknown;
}

export type IpcResponse =
  | { kind: "response"; id: number; ok: true; result: unknown }
  | { kind: "response"; id: number; ok: false; error: string };

export interface IpcReady {
  kind: "ready";
  info: unknown;
}

export type ChildMessage = IpcResponse | IpcReady;

export function isIpcRequest(value: unknown): value is IpcRequest {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "request";
}

export function isChildMessage(value: unknown): value is ChildMessage {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "response" || kind === "ready";
}

/**
 * Answers the parent's requests with `handlers`, then tells the parent it is ready with `info`.
 * The child exits when the parent goes away, so no process outlives a crashed orchestrator.
 */
export function serve<M extends MethodMap>(handlers: Handlers<M>, info: unknown): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error("this process must be started by bench/run.ts (no IPC channel)");
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: unknown) => {
    if (!isIpcRequest(message)) return;
    const handler = (handlers as Record<string, ((params: unknown) => unknown) | undefined>)[message.method];
    const reply = (response: IpcResponse) => {
      if (process.connected) send(response);
    };
    if (!handler) {
      reply({ kind: "response", id: message.id, ok: false, error: `unknown method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params))
      .then(
        (result) => reply({ kind: "response", id: message.id, ok: true, result }),
        (error: unknown) => reply({ kind: "response", id: message.id, ok: false, error: describe(error) }),
      );
  });
  const ready: IpcReady = { kind: "ready", info };
  send(ready);
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
