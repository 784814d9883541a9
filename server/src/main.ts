import { pino } from "pino";
import { loadConfig } from "./config.js";
import { startServer } from "./server.js";
import { drainOnSignals } from "./signals.js";

const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });

try {
  const config = loadConfig();
  const server = await startServer(config, logger);
  const shown = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  logger.info(
    { web: server.webPort, grpc: server.grpcPort, tls: config.tls !== undefined, iceServers: config.iceServers.length, node: server.nodeId },
    `Peer-to-Beer is up: open ${config.tls ? "https" : "http"}://${shown}:${server.webPort}`,
  );
  drainOnSignals(server, logger);
} catch (error) {
  logger.fatal({ err: error }, "could not start");
  process.exit(1);
}
