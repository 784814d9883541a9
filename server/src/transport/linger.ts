import type * as http from "node:http";

/** How long a refused request's connection may keep sending before it is closed. */
const LINGER_MS = 2_000;

/**
 * A request refused before its body was read (say, over the size limit) leaves the socket
 * mid-request; connect-node even leaves it paused, so it would never notice the client leave
 * and would leak. Once the answer is out, read and drop what the client still sends (a
 * lingering close, so the client is not reset before it reads the answer), and close once the
 * client is gone, or if the body has not ended after a while. A body that did end leaves a
 * healthy keep-alive connection, which the client may well use for its next request.
 */
export function lingerAfterRefusal(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Over HTTP/2 (TLS_CERT) the refusal ends only its stream; the shared socket is not ours.
  if (req.httpVersionMajor !== 1) return;
  const socket = req.socket;
  res.once("finish", () => {
    if (req.complete || socket.destroyed) return;
    socket.once("end", () => socket.destroy());
    setTimeout(() => {
      if (!req.complete) socket.destroy();
    }, LINGER_MS).unref();
    socket.resume();
  });
}
