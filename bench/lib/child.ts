import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isChildMessage, type IpcRequest, type IpcResponse, type MethodMap } from "./ipc.js";

/** Every child this process started; all are killed when it exits, however it exits. */
const live = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill("SIGKILL");
      process.exit(130);
    });
  }
}

export interface StartOptions {
  /** For messages: "ours server", "peerjs load #2"… */
  name: string;
  /** Path relative to bench/. */
  script: string;
  args?: string[];
  env?: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
}

/** Idle sessions need one socket each: ask for a high fd limit (silently kept as is if refused). */
const FD_LIMIT = 65_536;
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * A child process driven over IPC: started, awaited until it says it is ready, then called
 * method by method. `stop()` or the orchestrator's exit ends it.
 */
export class Child<M extends MethodMap, Info = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readonly info: Info,
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode);
      else proc.once("exit", (code) => resolve(code));
    });
    proc.on("message", (message: unknown) => {
      if (!isChildMessage(message) || message.kind !== "response") return;
      this.settle(message);
    });
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      const error = new Error(`${name} exited (code ${code}, signal ${signal}) with requests pending`);
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  static async start<M extends MethodMap, Info = unknown>(options: StartOptions): Promise<Child<M, Info>> {
    installExitHooks();
    const nodeArgs = [
      "--expose-gc",
      ...(options.nodeFlags ?? []),
      "--import",
      "tsx",
      `${BENCH_DIR}${options.script}`,
      ...(options.args ?? []),
    ];
    // Through bash only to raise the fd limit; `exec` keeps the pid and the IPC channel.
    const child = spawn(
      "bash",
      ["-c", `ulimit -n ${FD_LIMIT} 2>/dev/null || true; exec "$0" "$@"`, process.execPath, ...nodeArgs],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: { ...process.env, ...options.env },
      },
    );
    live.add(child);
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const info = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        child.kill("SIGKILL");
        reject(new Error(`${options.name} was not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (message: unknown) => {
        if (!isChildMessage(message) || message.kind !== "ready") return;
        cleanup();
        resolve(message.info);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        reject(new Error(`${options.name} exited before it was ready (code ${code}, signal ${signal})`));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        child.off("error", onError);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.once("error", onError);
    });
    // The protocol is ours: the child announced this shape with serve().
    return new Child<M, Info>(options.name, child, info as Info);
  }

  call<K extends keyof M & string>(method: K, params: M[K]["params"], timeoutMs = 120_000): Promise<M[K]["result"]> {
    const id = this.nextId++;
    const request: IpcRequest = { kind: "request", id, method, params };
    return new Promise<M[K]["result"]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${method} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        // The child's handler for `method` produced this value (see serve()).
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as M[K]["result"]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (!this.proc.connected) {
        this.pending.get(id)?.reject(new Error(`${this.name} is gone`));
        this.pending.delete(id);
        return;
      }
      this.proc.send(request);
    });
  }

  /** Sends SIGTERM, as a supervisor or orchestrator does; resolves with the exit code. */
  terminate(): Promise<number | null> {
    this.proc.kill("SIGTERM");
    return this.exited;
  }

  /** Disconnects IPC (the child exits on its own, flushing e.g. --cpu-prof); kills it if it lingers. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private settle(message: IpcResponse): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`${this.name}: ${message.error}`));
  }
}
