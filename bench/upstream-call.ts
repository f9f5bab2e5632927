/**
 * What the upstream call alone costs, whatever a gateway does with the answer (issue #22): CPU of
 * one process reading paced streamed chat answers from the simulator (in a process of its own),
 * per 20-chunk stream at 16 at a time, through each way Node's well-kept libraries offer: Node's
 * fetch, undici's `request` (the app's transport, src/openai/stream-transport.ts), undici's
 * `dispatch` (its lowest-level public call, a handler told of each chunk) and `node:http`. No
 * host, no parsing: the bytes are only counted. Clients alternate in rotating order, each figure
 * the median of the rounds. It bounds what the app can add over the do-nothing floor, which
 * makes no upstream call at all.
 */
import http from "node:http";
import { Agent, request as undiciRequest, type Dispatcher } from "undici";
import { startSimulatorProcess } from "./simulator-process.js";
import { percentile, round, type Benchmark, type Figure } from "./harness.js";

const DEPLOYMENT = "gpt-4o-mini";

type Read = () => Promise<number>;

export interface UpstreamCallOptions {
  /** Streams open at once. */
  streams: number;
  /** Streams one after another on each lane, per round. */
  streamsPerLane: number;
  rounds: number;
  maxTokens: number;
}

/**
 * @throws Error when the simulator fails to start or a stream is answered with an error.
 */
export async function measureUpstreamCallCpu(options: UpstreamCallOptions): Promise<Figure[]> {
  const simulator = await startSimulatorProcess();
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: 4_000 });
  // One undici pool for its two calls, so they differ only in the API.
  const dispatcher = new Agent();
  try {
    await simulator.control.updateSettings({ journalBodies: false });
    // The chat-streaming bench's pacing (one chunk every 50 ms), with a shorter wait for the first.
    await simulator.control.updateDeployment(DEPLOYMENT, {
      tpm: null,
      rpm: null,
      latency: { timeToFirstTokenMs: 50, tokensPerSecond: 20, stdDevRatio: 0 },
    });
    const url = `${simulator.url}/openai/v1/chat/completions`;
    const messages = [{ role: "user", content: "Write a short poem about the sea" }];
    const body = JSON.stringify({
      model: DEPLOYMENT,
      messages,
      max_tokens: options.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    });
    const headers = { "content-type": "application/json", "api-key": simulator.apiKey };
    const expectOk = (status: number) => {
      if (status !== 200) throw new Error(`the simulator answered ${status}`);
    };
    const clients: Record<string, Read> = {
      fetch: async () => {
        const response = await fetch(url, { method: "POST", headers, body });
        expectOk(response.status);
        let bytes = 0;
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
        return bytes;
      },
      "undici.request": async () => {
        const response = await undiciRequest(url, { method: "POST", headers, body, dispatcher });
        expectOk(response.statusCode);
        let bytes = 0;
        for await (const chunk of response.body as AsyncIterable<Buffer>) bytes += chunk.byteLength;
        return bytes;
      },
      "undici.dispatch": () =>
        new Promise<number>((resolve, reject) => {
          let bytes = 0;
          const handler: Dispatcher.DispatchHandler = {
            // Its presence marks undici's current handler API (without it, the legacy one is required).
            onRequestStart: () => undefined,
            onResponseStart: (_controller, status) => expectOk(status),
            onResponseData: (_controller, chunk) => (bytes += chunk.byteLength),
            onResponseEnd: () => resolve(bytes),
            onResponseError: (_controller, error) => reject(error),
          };
          dispatcher.dispatch({ origin: simulator.url, path: "/openai/v1/chat/completions", method: "POST", headers, body }, handler);
        }),
      "node:http": () =>
        new Promise<number>((resolve, reject) => {
          const outgoing = http.request(
            url,
            { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } },
            (response) => {
              expectOk(response.statusCode ?? 0);
              let bytes = 0;
              response.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
              response.on("end", () => resolve(bytes));
              response.on("error", reject);
            },
          );
          outgoing.on("error", reject);
          outgoing.end(body);
        }),
    };
    // Lanes start spread over one stream's time, so about `streams` are open at any moment.
    const streamMs = 50 + options.maxTokens * 50;
    const cpuPerStream = async (read: Read): Promise<number> => {
      const before = process.cpuUsage();
      await Promise.all(
        Array.from({ length: options.streams }, async (_, lane) => {
          await new Promise((resolve) => setTimeout(resolve, (lane * streamMs) / options.streams));
          for (let i = 0; i < options.streamsPerLane; i++) await read();
        }),
      );
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000 / (options.streams * options.streamsPerLane);
    };
    const names = Object.keys(clients);
    for (const name of names) await cpuPerStream(clients[name]!); // warm-up: connections, JIT
    const results = new Map<string, number[]>(names.map((name) => [name, []]));
    for (let round = 0; round < options.rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const name of round % 2 ? order.reverse() : order) results.get(name)!.push(await cpuPerStream(clients[name]!));
    }
    const med = (name: string) => percentile(results.get(name)!, 50);
    const runs = (name: string) => {
      const values = results.get(name)!;
      return `${name} ${round(med(name), 2)} ms (runs ${round(Math.min(...values), 2)} to ${round(Math.max(...values), 2)}, n=${values.length})`;
    };
    const label = `the upstream call alone: CPU per paced ${options.maxTokens}-chunk stream, ${options.streams} at a time, one process, bytes only counted`;
    return [
      {
        name: `${label}: undici.request (the app's transport) vs Node's fetch`,
        value: round(med("undici.request"), 2),
        unit: "ms",
        baseline: { name: "fetch", value: round(med("fetch"), 2) },
        ratio: round(med("fetch") / med("undici.request"), 2),
        ratioMeaning: "times cheaper than fetch",
        spread: names.map(runs).join("; "),
      },
      {
        name: `${label}: the cheapest library call (undici.dispatch, node:http) vs undici.request`,
        value: round(Math.min(med("undici.dispatch"), med("node:http")), 2),
        unit: "ms",
        baseline: { name: "undici.request", value: round(med("undici.request"), 2) },
        spread: `${runs("undici.dispatch")}; ${runs("node:http")}`,
      },
    ];
  } finally {
    agent.destroy();
    await dispatcher.close();
    await simulator.stop();
  }
}

export const upstreamCall: Benchmark = {
  name: "upstream-call",
  description:
    "the upstream streamed call alone, per client library (fetch, undici.request, undici.dispatch, node:http): CPU per paced 20-chunk stream",
  async run({ tiny, log }) {
    const figures = await measureUpstreamCallCpu(
      tiny ? { streams: 4, streamsPerLane: 1, rounds: 1, maxTokens: 5 } : { streams: 16, streamsPerLane: 3, rounds: 5, maxTokens: 20 },
    );
    for (const f of figures) log(`${f.name}: ${f.value} ${f.unit} (${f.spread})`);
    return figures;
  },
};
