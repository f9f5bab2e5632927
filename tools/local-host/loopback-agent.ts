/**
 * The HTTP agent for the host's own loopback hops (front door to the library's proxy and to the
 * runtime server), tuned so a reused keep-alive socket is never one the server is closing.
 */
import http from "node:http";

/** How long a Node server keeps an idle keep-alive connection open (`server.keepAliveTimeout`). */
const NODE_SERVER_KEEP_ALIVE_MS = 5_000;

/**
 * The agent for the host's own hops: the front door to the library's HTTP proxy and to the
 * runtime server. Their servers close a connection after 5 s idle, and Node 20's agent keeps an
 * idle socket exactly that long, so a request sent just then fails with ECONNRESET; a proxied
 * request that never arrives would leave its invocation waiting. Idle sockets are dropped a
 * second before the server would drop them (as Node 24's agent does by default).
 */
export const loopbackAgent = new http.Agent({ keepAlive: true, timeout: NODE_SERVER_KEEP_ALIVE_MS - 1_000 });
