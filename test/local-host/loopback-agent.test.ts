import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackAgent } from "../../tools/local-host/loopback-agent.js";

// The host's own hops must never send a request on a socket the server is about to close.
let server: http.Server;
let port: number;

beforeAll(async () => {
  // A plain Node server (keepAliveTimeout 5 s), like the library's proxy and the runtime server.
  server = http.createServer((req, res) => {
    req.resume();
    if (req.url === "/quiet") {
      res.write("first ");
      setTimeout(() => res.end("last"), 4_600);
    } else req.on("end", () => res.end("ok"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, agent: loopbackAgent }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve(text));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

const idleSockets = () => Object.values(loopbackAgent.freeSockets).flat().length;

describe("the local host's agent for its own hops", () => {
  it("drops an idle connection before the server's 5 s keep-alive timeout, and lets a quiet response finish", async () => {
    expect(server.keepAliveTimeout).toBe(5_000);
    const quiet = get("/quiet"); // silent for 4.6 s mid-response: must not be cut off
    expect(await get("/")).toBe("ok");
    expect(idleSockets()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(idleSockets()).toBe(0);
    expect(await quiet).toBe("first last");
  }, 15_000);
});
