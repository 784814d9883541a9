/**
 * What a fuzz run watches besides the answers: the process's uncaught errors (an in-process
 * server crash shows up there) and what the server logs at error level (handler failures that
 * became INTERNAL).
 */
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/server.js";
import { testConfig } from "../helpers.js";

/** Uncaught exceptions and unhandled rejections between `start` and `stop`. */
export class CrashRecorder {
  readonly crashes: unknown[] = [];
  private readonly record = (error: unknown) => void this.crashes.push(error);

  start(): void {
    process.on("uncaughtException", this.record);
    process.on("unhandledRejection", this.record);
  }

  stop(): void {
    process.off("uncaughtException", this.record);
    process.off("unhandledRejection", this.record);
  }
}

/** A test server whose error-level log lines are kept in `serverErrors`. */
export async function startRecordedServer(
  overrides: Record<string, string>,
): Promise<{ server: RunningServer; serverErrors: string[] }> {
  const serverErrors: string[] = [];
  const logger = pino({ level: "error" }, { write: (line: string) => void serverErrors.push(line) });
  return { server: await startServer(testConfig(overrides), logger), serverErrors };
}
