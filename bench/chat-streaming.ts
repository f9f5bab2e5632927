/**
 * Streamed chat through the function vs. the simulator called directly, in the same run with the
 * same streams: added time to first byte (p50/p99) at 100 concurrent streams, how closely chunk
 * arrivals follow the upstream's pacing (no buffering), the host process's CPU per stream and
 * memory per open stream. A third arm streams from a do-nothing function through the same local
 * host, so the share of the local host (which stands in for the Functions host) and the
 * @azure/functions library is visible next to the app's. The rounds take the arms in every order
 * in turn, so machine drift affects every arm alike. The simulator runs in a process of its own.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { createParser } from "eventsource-parser";
import { startAzurite } from "../tools/local-host/azurite.js";
import { startHost, type LocalHost } from "../tools/local-host/index.js";
import { REPO_ROOT } from "../tools/repo-root.js";
import { start as startSimulator } from "../tools/simulator/index.js";
import { openChatStream } from "../src/chat/chat-service.js";
import { loadConfig } from "../src/config.js";
import { createSseStream } from "../src/http/sse.js";
import { createOpenAIClient } from "../src/openai/client.js";
import { startSimulatorProcess, type SimulatorProcess } from "./simulator-process.js";
import { alternate, percentile, round, spreadOf, type Benchmark, type Figure } from "./harness.js";

const DEPLOYMENT = "gpt-4o-mini";
const TIME_TO_FIRST_TOKEN_MS = 200;
const TOKENS_PER_SECOND = 20; // one chunk every 50 ms
const TOKEN_GAP_MS = 1000 / TOKENS_PER_SECOND;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StreamTiming {
  /** ms from sending the request to the first body byte. */
  firstByte: number;
  /** ms from sending the request to each content chunk. */
  content: number[];
}

interface RoundResult {
  streams: StreamTiming[];
  /** RSS of the host process while every stream was open (hosts only). */
  peakRssInBytes?: number;
  /** CPU time of the host process (the app runs inside it) per stream (hosts only). */
  hostCpuMsPerStream?: number;
}

export interface ChatStreamingOptions {
  /** Streams open at once. */
  streams: number;
  /** Streams run one after another on each of the `streams` lanes, per round. */
  streamsPerLane: number;
  rounds: number;
  maxTokens: number;
  /** How the app authenticates to the simulator: its managed identity (the default, as on Azure) or an API key. */
  auth?: "managed-identity" | "key";
  log: (line: string) => void;
}

/**
 * The load generator's client: node:http with keep-alive. It costs a fraction of the CPU of
 * fetch per stream, which leaves more of the machine to what is measured (every arm uses it).
 * Idle sockets are dropped after 4 s, before the servers drop them (5 s): a round often starts
 * after about 5 s idle, and a POST sent on a socket the server is closing fails with ECONNRESET.
 */
const loadAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: 4_000 });

/** Opens one stream and timestamps its first byte and every content chunk. */
function timeStream(url: string, headers: Record<string, string>, body: unknown): Promise<StreamTiming> {
  const started = performance.now();
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: "POST",
        agent: loadAgent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers },
      },
      (response) => {
        const timing: StreamTiming = { firstByte: Number.NaN, content: [] };
        let sawDone = false;
        let text = "";
        // A stream that fails (an error event, bad JSON, no [DONE]) fails the run: it is not a timing.
        const fail = (error: Error) => {
          response.destroy();
          reject(error);
        };
        const parser = createParser({
          onEvent: (event) => {
            if (event.data === "[DONE]") {
              sawDone = true;
              return;
            }
            const chunk = JSON.parse(event.data) as { error?: unknown; choices?: { delta?: { content?: string } }[] };
            if (chunk.error) throw new Error(`${url} streamed an error: ${event.data}`);
            if (chunk.choices?.[0]?.delta?.content) timing.content.push(performance.now() - started);
          },
        });
        response.setEncoding("utf8");
        response.on("data", (data: string) => {
          if (Number.isNaN(timing.firstByte)) timing.firstByte = performance.now() - started;
          if (response.statusCode !== 200) {
            text += data;
            return;
          }
          try {
            parser.feed(data);
          } catch (error) {
            fail(error as Error);
          }
        });
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`${url} answered ${response.statusCode}: ${text}`));
          else if (!sawDone || timing.content.length === 0)
            reject(new Error(`${url} ended its stream early (${timing.content.length} tokens, no [DONE])`));
          else resolve(timing);
        });
        response.on("error", (error) => reject(new Error(`${url}: the response broke off (${error.message})`, { cause: error })));
      },
    );
    request.on("error", (error) => reject(new Error(`${url}: the request failed (${error.message})`, { cause: error })));
    request.end(payload);
  });
}

function rssInBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib * 1024;
}

/** User + system CPU time of a process so far, in ms (from /proc, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One way of serving the streams: the simulator itself, or a local host (the app, or the floor). */
interface Arm {
  name: string;
  open: () => Promise<StreamTiming>;
  host?: LocalHost;
  results: RoundResult[];
}

/**
 * Runs the comparison and returns the figures: the simulator called directly, the app through
 * the local host, and a do-nothing streaming function through the same local host (the floor:
 * what the host stand-in and the @azure/functions library cost before any app code runs).
 * @throws Error when a part of the stack fails to start or a stream is answered with an error.
 */
export async function measureChatStreaming(options: ChatStreamingOptions): Promise<Figure[]> {
  const azurite = await startAzurite();
  let simulator: SimulatorProcess | undefined;
  const hosts: LocalHost[] = [];
  try {
    simulator = await startSimulatorProcess();
    await simulator.control.updateSettings({ journalBodies: false });
    await simulator.control.updateDeployment(DEPLOYMENT, {
      tpm: null,
      rpm: null,
      latency: { timeToFirstTokenMs: TIME_TO_FIRST_TOKEN_MS, tokensPerSecond: TOKENS_PER_SECOND, stdDevRatio: 0 },
    });
    const hostOptions = (entry: string, env: Record<string, string>) => ({
      entry: path.join(REPO_ROOT, entry),
      cwd: REPO_ROOT,
      port: 0,
      isolateEnv: true,
      env: { AzureWebJobsStorage: azurite.connectionString, FUNCTIONS_WORKER_RUNTIME: "node", ...env },
    });
    const appHost = await startHost(
      hostOptions("dist/src/index.js", {
        AZURE_OPENAI_ENDPOINT: simulator.url,
        IDENTITY_ENDPOINT: simulator.identity.endpoint,
        IDENTITY_HEADER: simulator.identity.header,
        HTTP_AUTH_LEVEL: "anonymous",
        ...(options.auth === "key" ? { AZURE_OPENAI_API_KEY: simulator.apiKey } : {}),
      }),
    );
    hosts.push(appHost);
    const floorHost = await startHost(
      hostOptions("dist/bench/fixtures/streaming-floor.js", {
        FLOOR_TIME_TO_FIRST_TOKEN_MS: String(TIME_TO_FIRST_TOKEN_MS),
        FLOOR_TOKEN_GAP_MS: String(TOKEN_GAP_MS),
      }),
    );
    hosts.push(floorHost);

    const messages = [{ role: "user", content: "Write a short poem about the sea" }];
    const { url: simulatorUrl, apiKey } = simulator;
    const viaHost = (host: LocalHost) => () =>
      timeStream(`${host.url}/api/v1/chat/completions`, {}, { messages, max_tokens: options.maxTokens, stream: true });
    const direct: Arm = {
      name: "direct",
      open: () =>
        timeStream(
          `${simulatorUrl}/openai/v1/chat/completions`,
          { "api-key": apiKey },
          {
            model: DEPLOYMENT,
            messages,
            max_tokens: options.maxTokens,
            stream: true,
            stream_options: { include_usage: true }, // the app always asks for it too
          },
        ),
      results: [],
    };
    const app: Arm = { name: "function", open: viaHost(appHost), host: appHost, results: [] };
    const floor: Arm = { name: "floor", open: viaHost(floorHost), host: floorHost, results: [] };
    const arms = [direct, app, floor];

    // Warm up every path (token acquisition, JIT, connection pools) before measuring.
    for (const arm of arms) await Promise.all(Array.from({ length: Math.min(10, options.streams) }, () => arm.open()));
    const idleRss = new Map(hosts.map((host) => [host.pid, rssInBytes(host.pid)]));

    // Steady concurrency, not a thundering herd: `streams` lanes each run streams back to back,
    // the lanes' starts spread over one stream's duration, so about `streams` are open at any
    // moment and each new stream starts while the others are mid-flight (as in production).
    const streamDurationMs = TIME_TO_FIRST_TOKEN_MS + options.maxTokens * TOKEN_GAP_MS;
    const runRound = async (arm: Arm): Promise<RoundResult> => {
      const pid = arm.host?.pid;
      let peakRssInBytes: number | undefined;
      // Sample the host's memory once every lane is running.
      const sampler = pid ? setTimeout(() => (peakRssInBytes = rssInBytes(pid)), streamDurationMs * 1.5) : undefined;
      const cpuBefore = pid ? cpuMs(pid) : 0;
      let lanes: StreamTiming[][];
      try {
        lanes = await Promise.all(
          Array.from({ length: options.streams }, async (_, lane) => {
            await sleep((lane * streamDurationMs) / options.streams);
            const timings: StreamTiming[] = [];
            for (let i = 0; i < options.streamsPerLane; i++) timings.push(await arm.open());
            return timings;
          }),
        );
      } finally {
        // Also when a stream failed: the hosts are stopped next, and the sample would then fail
        // in place of the stream's error.
        clearTimeout(sampler);
      }
      const opened = options.streams * options.streamsPerLane;
      // The first stream of each lane starts before full concurrency is reached: not counted.
      const streams = lanes.flatMap((timings) => (timings.length > 1 ? timings.slice(1) : timings));
      return {
        streams,
        ...(peakRssInBytes !== undefined ? { peakRssInBytes } : {}),
        ...(pid ? { hostCpuMsPerStream: (cpuMs(pid) - cpuBefore) / opened } : {}),
      };
    };
    options.log(
      `chat-streaming: ${options.rounds} rounds of direct / function / floor, each round in another order; ${options.streams} concurrent streams, ` +
        `${options.streamsPerLane} after one another on each, ${options.maxTokens} tokens each ${TOKEN_GAP_MS} ms apart`,
    );
    // Every order of the three arms in turn (six rounds cover them all): each arm runs first,
    // second and last equally often, after each of the others equally often, so neither machine
    // drift nor what the previous arm left behind favours one of them.
    const orders = [
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
      [0, 2, 1],
      [2, 1, 0],
      [1, 0, 2],
    ];
    for (let round = 0; round < options.rounds; round++) {
      for (const index of orders[round % orders.length]!) {
        const arm = arms[index]!;
        arm.results.push(await runRound(arm));
      }
    }

    const streamsOf = (arm: Arm) => arm.results.flatMap((r) => r.streams);
    const ttft = (arm: Arm) => streamsOf(arm).map((s) => s.content[0] ?? Number.NaN);
    // Pacing: each content chunk's arrival after the stream's first one, against the upstream schedule.
    const lateness = (arm: Arm) =>
      streamsOf(arm).flatMap((s) => s.content.slice(1).map((at, i) => Math.abs(at - s.content[0]! - (i + 1) * TOKEN_GAP_MS)));
    const added = (arm: Arm, p: number) => percentile(ttft(arm), p) - percentile(ttft(direct), p);
    const addedLateness = (arm: Arm) => percentile(lateness(arm), 99) - percentile(lateness(direct), 99);
    const hostCpu = (arm: Arm) =>
      percentile(
        arm.results.map((r) => r.hostCpuMsPerStream ?? Number.NaN),
        50,
      );
    const chunksPerStream = percentile(
      streamsOf(app).map((s) => s.content.length),
      50,
    );

    const figures: Figure[] = [
      {
        name: `added time to first token, p50 (${options.streams} streams)`,
        value: round(added(app, 50), 2),
        unit: "ms",
        baseline: { name: "direct p50", value: round(percentile(ttft(direct), 50)) },
        ratio: round(percentile(ttft(app), 50) / percentile(ttft(direct), 50), 3),
        ratioMeaning: "function / direct",
        spread: `${spreadOf(ttft(app), "ms")} (function)`,
        target: "<= 2 ms",
        pass: added(app, 50) <= 2,
      },
      {
        name: `added time to first token, p99 (${options.streams} streams)`,
        value: round(added(app, 99), 2),
        unit: "ms",
        baseline: { name: "direct p99", value: round(percentile(ttft(direct), 99)) },
        ratio: round(percentile(ttft(app), 99) / percentile(ttft(direct), 99), 3),
        ratioMeaning: "function / direct",
        target: "<= 10 ms",
        pass: added(app, 99) <= 10,
      },
      {
        name: "chunk arrival vs upstream pacing, p99 deviation",
        value: round(percentile(lateness(app), 99), 2),
        unit: "ms",
        baseline: { name: "direct p99 deviation", value: round(percentile(lateness(direct), 99), 2) },
        ratio: round(addedLateness(app), 2),
        ratioMeaning: "ms added by the function",
        spread: `p50 ${round(percentile(lateness(app), 50), 2)} ms, ${chunksPerStream} chunks/stream, ${TOKEN_GAP_MS} ms apart`,
        target: "within 5 ms of direct",
        pass: addedLateness(app) <= 5,
      },
      // The floor: the same three measures for a function that does nothing. What it adds is the
      // local host's and the library's share; the app cannot go below it on this machine.
      {
        name: `host floor: added time to first token, p50 (${options.streams} streams, do-nothing function)`,
        value: round(added(floor, 50), 2),
        unit: "ms",
        baseline: { name: "direct p50", value: round(percentile(ttft(direct), 50)) },
      },
      {
        name: `host floor: added time to first token, p99 (${options.streams} streams, do-nothing function)`,
        value: round(added(floor, 99), 2),
        unit: "ms",
        baseline: { name: "direct p99", value: round(percentile(ttft(direct), 99)) },
      },
      {
        name: "host floor: chunk arrival vs upstream pacing, p99 deviation (do-nothing function)",
        value: round(percentile(lateness(floor), 99), 2),
        unit: "ms",
        baseline: { name: "direct p99 deviation", value: round(percentile(lateness(direct), 99), 2) },
        ratio: round(addedLateness(floor), 2),
        ratioMeaning: "ms added by the host alone",
      },
      {
        name: "host process CPU per stream (host + library + app)",
        value: round(hostCpu(app), 2),
        unit: "ms",
        baseline: { name: "do-nothing function", value: round(hostCpu(floor), 2) },
        ratio: round(hostCpu(app) - hostCpu(floor), 2),
        ratioMeaning: "ms of CPU the app adds per stream",
        spread: `${options.maxTokens} tokens per stream; one process: the local host's front door (own thread), the library's proxy and the app`,
      },
    ];
    // RSS growth of the host process with every stream open, per stream: host, library and app.
    const perOpenStream = (arm: Arm) => {
      const peaks = arm.results.map((r) => r.peakRssInBytes).filter((v): v is number => v !== undefined);
      return peaks.length > 0
        ? { peak: percentile(peaks, 50), perStream: (percentile(peaks, 50) - idleRss.get(arm.host!.pid)!) / options.streams }
        : undefined;
    };
    const appMemory = perOpenStream(app);
    const floorMemory = perOpenStream(floor);
    if (appMemory && floorMemory) {
      figures.push({
        name: "host process memory per open stream (host + library + app)",
        value: round(appMemory.perStream / 1024, 1),
        unit: "KiB",
        baseline: { name: "do-nothing function", value: round(floorMemory.perStream / 1024, 1) },
        spread: `RSS idle ${round(idleRss.get(appHost.pid)! / 2 ** 20)} MiB, with ${options.streams} open ${round(appMemory.peak / 2 ** 20)} MiB`,
      });
    }
    for (const f of figures) options.log(`${f.name}: ${f.value} ${f.unit}${f.baseline ? ` (${f.baseline.name} ${f.baseline.value})` : ""}`);
    return figures;
  } finally {
    await Promise.allSettled(hosts.map((host) => host.stop()));
    await Promise.allSettled([simulator?.stop(), azurite.stop()]);
  }
}

/**
 * The CPU the app's own code adds per streamed chunk, without any host: the chat service and SSE
 * encoding in this process against the simulator (no latency), minus the same streams fetched raw.
 * Separates the app's cost from the local host's (which stands in for the Functions host).
 * @throws Error when the simulator fails to start or a stream fails.
 */
export async function measureAppCpuPerChunk(streams: number, maxTokens: number): Promise<Figure> {
  const simulator = await startSimulator({ journalBodies: false });
  try {
    await simulator.control.updateDeployment(DEPLOYMENT, {
      tpm: null,
      rpm: null,
      latency: { timeToFirstTokenMs: 0, tokensPerSecond: 0, stdDevRatio: 0 },
    });
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: simulator.url,
      AZURE_OPENAI_API_KEY: simulator.apiKey,
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
    });
    const client = await createOpenAIClient(config.openai);
    const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const messages = [{ role: "user" as const, content: "Write a short poem about the sea" }];
    const request = { deployment: DEPLOYMENT, stream: true, includeUsage: false, body: { messages, max_tokens: maxTokens } };
    let chunks = 0;
    const viaApp = async () => {
      const events = await openChatStream({ client, logger }, request, new AbortController().signal);
      const body = createSseStream({
        events,
        keepAliveInMs: 15_000,
        describeError: () => ({ error: { message: "", type: "server_error", param: null, code: null } }),
      });
      for await (const _bytes of body) chunks++;
    };
    const raw = async () => {
      const response = await fetch(`${simulator.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "api-key": simulator.apiKey },
        body: JSON.stringify({ model: DEPLOYMENT, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
      });
      await response.arrayBuffer();
    };
    const cpuOf = async (run: () => Promise<void>) => {
      const before = process.cpuUsage();
      for (let i = 0; i < streams; i += 10) await Promise.all(Array.from({ length: Math.min(10, streams - i) }, run));
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    await cpuOf(viaApp); // warm-up
    await cpuOf(raw);
    chunks = 0;
    const { a: appCpu, b: rawCpu } = await alternate(
      3,
      () => cpuOf(viaApp),
      () => cpuOf(raw),
    );
    const chunksPerRun = chunks / 3;
    const perChunk = (percentile(appCpu, 50) - percentile(rawCpu, 50)) / chunksPerRun;
    return {
      name: "app CPU per streamed chunk (service + SSE, no host)",
      value: round(perChunk * 1000, 0),
      unit: "µs",
      // The table prints the baseline in the figure's unit: CPU of a raw fetch per chunk, in µs.
      baseline: { name: "raw fetch of the same stream", value: round((percentile(rawCpu, 50) / chunksPerRun) * 1000, 1) },
      spread: `${round(percentile(appCpu, 50) / streams, 2)} ms CPU per stream through the app code, ${round(chunksPerRun / streams)} SSE writes per stream`,
    };
  } finally {
    await simulator.stop();
  }
}

export const chatStreaming: Benchmark = {
  name: "chat-streaming",
  description: "streamed chat through the function vs the simulator directly: added TTFT, pacing, memory per stream",
  async run({ tiny, log }) {
    const figures = await measureChatStreaming(
      tiny
        ? { streams: 5, streamsPerLane: 2, rounds: 1, maxTokens: 5, log }
        : { streams: 100, streamsPerLane: 3, rounds: 6, maxTokens: 20, log },
    );
    const cpu = await measureAppCpuPerChunk(tiny ? 10 : 200, 20);
    log(`${cpu.name}: ${cpu.value} ${cpu.unit} (${cpu.spread})`);
    return [...figures, cpu];
  },
};
