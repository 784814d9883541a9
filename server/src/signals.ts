import type { Logger } from "pino";
import type { RunningServer } from "./server.js";

/** SIGTERM and SIGINT drain the server (see RunningServer.shutdown), then the process exits 0. */
export function drainOnSignals(server: RunningServer, logger: Logger): void {
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "draining");
    server.shutdown().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
