/**
 * One simulated Azure OpenAI resource's HTTP server: one listener on 127.0.0.1 whose requests go,
 * by path, to the Azure OpenAI data plane (/openai/, data-plane.ts), the App Service managed
 * identity endpoint (/msi/token, identity.ts; on the resource that hosts it) or the control API
 * (/_simulator/, control-api.ts), all over the resource's SimulatorState (state.ts). This file only
 * composes those parts and owns the listening socket; index.ts starts one per resource.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TokenAuthority } from "./auth.js";
import { serveControl } from "./control-api.js";
import { serveDataPlane } from "./data-plane.js";
import { sendInternalError, sendJson } from "./http-io.js";
import { IDENTITY_PATH, isIdentityPath, serveIdentity } from "./identity.js";
import { SimulatorState, type ServerSettings } from "./state.js";

export type { RuntimeSettings, ServerSettings } from "./state.js";

/** The HTTP server of one resource: Azure OpenAI data plane, control API, and the identity endpoint if it hosts it. */
export class SimulatorServer {
  readonly server: Server;
  readonly state: SimulatorState;
  private sockets = new Set<Socket>();
  baseUrl = "";

  /** `authority`: the simulator's one token authority, shared by its resources. */
  constructor(
    readonly settings: ServerSettings,
    authority: TokenAuthority,
  ) {
    this.state = new SimulatorState(settings, authority);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => sendInternalError(res, error));
    });
    this.server.on("connection", (socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.settings.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get identityEndpoint(): string {
    return this.baseUrl + IDENTITY_PATH;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const identityHeader = this.settings.identityHeader;
    if (path.startsWith("/openai/")) return serveDataPlane(this.state, req, res, url, this.baseUrl);
    if (identityHeader !== undefined && isIdentityPath(path)) return serveIdentity(req, res, url, identityHeader, this.state.authority);
    if (path.startsWith("/_simulator/")) return serveControl(this.state, req, res, url);
    sendJson(res, 404, { error: { code: "404", message: "Resource not found" } });
  }
}
