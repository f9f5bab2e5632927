/**
 * Streamed chat, measured where it matters for sizing on Azure (issue #22). Five arms in one run:
 * the simulator called directly (the baseline), the app on the local host, a do-nothing streaming
 * function on the same local host (the floor: what the host stand-in and the @azure/functions
 * library cost; on Azure that is the Functions host, which the app cannot change), a function
 * that relays the simulator's bytes unchanged (the pass-through floor: the floor plus the upstream
 * call alone, which any gateway pays) and a peer gateway from npm in front of the same simulator.
 * Part 1, at 16 concurrent streams (Flex Consumption's default per instance): added time to first
 * token p50/p99 and pacing p99 over direct, CPU per stream and memory per open stream of the
 * serving process, each the median of several rounds with their range. Part 2, capacity: the concurrency is stepped up until an arm's
 * added p99 time to first token passes CAPACITY_LIMIT_MS. Arms alternate in rotating order so
 * machine drift affects them alike. The simulator and the gateway run in processes of their own.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import http from "node:http";
import path from "node:path";
import { createParser } from "eventsource-parser";
import { request as undiciRequest } from "undici";
import { startAzurite } from "../tools/local-host/azurite.js";
import { startHost, type LocalHost } from "../tools/local-host/index.js";
import { REPO_ROOT } from "../tools/repo-root.js";
import { start as startSimulator } from "../tools/simulator/index.js";
import { openChatStream } from "../src/chat/chat-service.js";
import { loadConfig } from "../src/config.js";
import { createSseStream } from "../src/http/sse.js";
import { createOpenAIClient } from "../src/openai/client.js";
import { startSimulatorProcess, type SimulatorProcess } from "./simulator-process.js";
import { startPeerGateway, type PeerGateway } from "./peer-gateway-process.js";
import { alternate, percentile, round, type Benchmark, type Figure } from "./harness.js";

const DEPLOYMENT = "gpt-4o-mini";
const TIME_TO_FIRST_TOKEN_MS = 200;
const TOKENS_PER_SECOND = 20; // one chunk every 50 ms
const TOKEN_GAP_MS = 1000 / TOKENS_PER_SECOND;
/** An arm holds a concurrency while the p99 time to first token it adds over direct stays within this. */
export const CAPACITY_LIMIT_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StreamTiming {
  /** ms from sending the request to the first body byte. */
  firstByte: number;
  /** ms from sending the request to each content chunk. */
  content: number[];
}

export interface ChatStreamingOptions {
  /** Streams open at once in part 1 (the per-instance concurrency). */
  streams: number;
  /** Streams run one after another on each of the `streams` lanes, per round. */
  streamsPerLane: number;
  /** Rounds of part 1; each figure is the median of the rounds. */
  runs: number;
  maxTokens: number;
  /** The concurrency steps of the capacity runs, ascending. */
  capacityLevels: readonly number[];
  capacityRuns: number;
  /** Streams one after another on each lane of a capacity step (the first is not counted). */
  capacityStreamsPerLane: number;
  /** The step at which the capacity runs also report CPU per stream (part 1 reports it at `streams`). */
  cpuLevel: number;
  /** How long each process's idle CPU is sampled before the rounds. */
  idleSampleMs: number;
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

/** One way of serving the streams: the simulator itself, the app or the floor on a local host, or the peer gateway. */
interface Arm {
  name: string;
  open: () => Promise<StreamTiming>;
  /** The process that serves this arm (the host, or the gateway), for its CPU time and memory. */
  pid?: number;
}

/** One round of one arm: `streams` lanes, each running `streamsPerLane` streams back to back. */
interface Round {
  streams: StreamTiming[];
  /** RSS of the serving process while every stream was open. */
  rssInBytes?: number;
  /** RSS growth from the round's start to that moment, per open stream. */
  rssGrowthPerStream?: number;
  /** CPU time of the serving process per stream opened in the round. */
  cpuMsPerStream?: number;
  /** The same above the process's idle CPU (its background work over the round's time): what each stream costs. */
  marginalCpuMsPerStream?: number;
}

/** The figures of one round of one arm, read against the direct arm's round taken next to it. */
interface RoundFigures {
  /** Added time to first token over direct, p50 and p99, ms. */
  p50: number;
  p99: number;
  /** Added p99 deviation from the upstream pacing over direct, ms. */
  pacing: number;
  cpu?: number;
  marginalCpu?: number;
  rss?: number;
}

const ttftOf = (round: Round) => round.streams.map((s) => s.content[0] ?? Number.NaN);
// Pacing: each content chunk's arrival after the stream's first one, against the upstream schedule.
const latenessOf = (round: Round) =>
  round.streams.flatMap((s) => s.content.slice(1).map((at, i) => Math.abs(at - s.content[0]! - (i + 1) * TOKEN_GAP_MS)));

function figuresOf(round: Round, direct: Round): RoundFigures {
  return {
    p50: percentile(ttftOf(round), 50) - percentile(ttftOf(direct), 50),
    p99: percentile(ttftOf(round), 99) - percentile(ttftOf(direct), 99),
    pacing: percentile(latenessOf(round), 99) - percentile(latenessOf(direct), 99),
    ...(round.cpuMsPerStream !== undefined ? { cpu: round.cpuMsPerStream } : {}),
    ...(round.marginalCpuMsPerStream !== undefined ? { marginalCpu: round.marginalCpuMsPerStream } : {}),
    ...(round.rssGrowthPerStream !== undefined ? { rss: round.rssGrowthPerStream } : {}),
  };
}

/** Median and range of per-run values, e.g. "runs 4.1-6.3 ms (n=6)". */
function runsSpread(values: readonly number[], unit: string, digits = 1): string {
  return `runs ${round(Math.min(...values), digits)} to ${round(Math.max(...values), digits)} ${unit} (n=${values.length})`;
}

/**
 * Runs the comparison and returns the figures. Four arms, in the same run, alternating:
 * - direct: the simulator called straight (the baseline every "added" figure is taken over);
 * - function: the app on the local host;
 * - floor: a do-nothing streaming function on the same local host (what the host stand-in and the
 *   @azure/functions library cost before any app code runs; no upstream call);
 * - peer: an OpenAI-compatible gateway from npm (@llmops/gateway) in front of the same simulator.
 * Two parts: `runs` rounds at `streams` concurrent streams (each figure is the median of the
 * rounds, with their range), then `capacityRuns` runs stepping the concurrency up until an arm's
 * added p99 time to first token passes CAPACITY_LIMIT_MS.
 * @throws Error when a part of the stack fails to start or a stream is answered with an error.
 */
export async function measureChatStreaming(options: ChatStreamingOptions): Promise<Figure[]> {
  const azurite = await startAzurite();
  let simulator: SimulatorProcess | undefined;
  let peer: PeerGateway | undefined;
  const hosts: LocalHost[] = [];
  let hostJsonDir: string | undefined;
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
    // On Azure the Functions host, a process of its own, polls the app's queues and scans its
    // blob containers; the local host does it in the app's process (about 11 ms of CPU a second
    // more than the floor's, in bursts that stall the event loop and show as p99 spikes). The app
    // arm polls as seldom as Azure's defaults allow (queues: maxPollingInterval 1 minute; the
    // repo's host.json sets 2 s for quick local pick-up), so its process carries the app's work.
    hostJsonDir = mkdtempSync(path.join(os.tmpdir(), "chat-streaming-"));
    const hostJson = JSON.parse(readFileSync(path.join(REPO_ROOT, "host.json"), "utf8")) as {
      extensions: { queues: Record<string, unknown> };
    };
    hostJson.extensions.queues.maxPollingInterval = "00:01:00";
    writeFileSync(path.join(hostJsonDir, "host.json"), JSON.stringify(hostJson));
    const appHost = await startHost({
      ...hostOptions("dist/src/index.js", {
        AZURE_OPENAI_ENDPOINT: simulator.url,
        IDENTITY_ENDPOINT: simulator.identity.endpoint,
        IDENTITY_HEADER: simulator.identity.header,
        HTTP_AUTH_LEVEL: "anonymous",
        ...(options.auth === "key" ? { AZURE_OPENAI_API_KEY: simulator.apiKey } : {}),
      }),
      hostJson: path.join(hostJsonDir, "host.json"),
      blobScanIntervalMs: 60_000,
    });
    hosts.push(appHost);
    const floorHost = await startHost(
      hostOptions("dist/bench/fixtures/streaming-floor.js", {
        FLOOR_TIME_TO_FIRST_TOKEN_MS: String(TIME_TO_FIRST_TOKEN_MS),
        FLOOR_TOKEN_GAP_MS: String(TOKEN_GAP_MS),
      }),
    );
    hosts.push(floorHost);
    const passHost = await startHost(
      hostOptions("dist/bench/fixtures/streaming-passthrough.js", {
        PASSTHROUGH_UPSTREAM: simulator.url,
        PASSTHROUGH_API_KEY: simulator.apiKey,
        PASSTHROUGH_DEPLOYMENT: DEPLOYMENT,
      }),
    );
    hosts.push(passHost);
    peer = await startPeerGateway();

    const messages = [{ role: "user", content: "Write a short poem about the sea" }];
    const { url: simulatorUrl, apiKey } = simulator;
    // What a caller of the app sends: no stream_options (the app asks Azure for usage on its own).
    const callerBody = { messages, max_tokens: options.maxTokens, stream: true };
    const viaHost = (host: LocalHost) => () => timeStream(`${host.url}/api/v1/chat/completions`, {}, callerBody);
    const direct: Arm = {
      name: "direct",
      open: () =>
        timeStream(
          `${simulatorUrl}/openai/v1/chat/completions`,
          { "api-key": apiKey },
          { ...callerBody, model: DEPLOYMENT, stream_options: { include_usage: true } }, // the app always asks for usage too
        ),
    };
    const app: Arm = { name: "function", open: viaHost(appHost), pid: appHost.pid };
    const floor: Arm = { name: "floor", open: viaHost(floorHost), pid: floorHost.pid };
    const pass: Arm = { name: "pass-through", open: viaHost(passHost), pid: passHost.pid };
    const peerUrl = peer.url;
    const peerArm: Arm = {
      name: "peer",
      // The caller's own request, with the gateway's routing headers. The gateway forwards Azure's
      // annotation-only first chunk as it is; timeStream times content chunks only, so that chunk
      // (which the app folds into the next one) does not count as a first token for either.
      open: () =>
        timeStream(
          `${peerUrl}/v1/chat/completions`,
          {
            "x-llmops-provider": "openai",
            "x-llmops-custom-host": `${simulatorUrl}/openai/v1`,
            authorization: `Bearer ${apiKey}`,
          },
          { ...callerBody, model: DEPLOYMENT },
        ),
      pid: peer.pid,
    };
    const arms = [direct, app, floor, pass, peerArm];

    // Warm up every path (token acquisition, JIT, connection pools) before measuring.
    for (const arm of arms) await Promise.all(Array.from({ length: Math.min(10, options.streams) }, () => arm.open()));
    const idleRss = new Map(arms.filter((a) => a.pid).map((a) => [a.pid!, rssInBytes(a.pid!)]));
    // Each process's CPU while no stream runs: the app's local host polls the app's queues and
    // blob containers (its queue and blob triggers; the floor has none), which on Azure the
    // Functions host does in a process of its own. Sampled once, all processes at once.
    const idleCpuMsPerSecond = await sampleIdleCpu(
      arms.filter((a) => a.pid).map((a) => a.pid!),
      options.idleSampleMs,
    );

    // Steady concurrency, not a thundering herd: `streams` lanes each run streams back to back,
    // the lanes' starts spread over one stream's duration, so about `streams` are open at any
    // moment and each new stream starts while the others are mid-flight (as in production).
    const streamDurationMs = TIME_TO_FIRST_TOKEN_MS + options.maxTokens * TOKEN_GAP_MS;
    const runRound = async (arm: Arm, streams: number, streamsPerLane: number): Promise<Round> => {
      const pid = arm.pid;
      let rss: number | undefined;
      // Sample the serving process's memory once every lane is running.
      // Growth from the round's own start: the process's RSS between rounds drifts with garbage
      // collection, so a baseline taken once would make the growth meaningless (even negative).
      const rssBefore = pid ? rssInBytes(pid) : 0;
      const sampler = pid ? setTimeout(() => (rss = rssInBytes(pid)), streamDurationMs * 1.5) : undefined;
      const cpuBefore = pid ? cpuMs(pid) : 0;
      const startedAt = performance.now();
      let lanes: StreamTiming[][];
      try {
        lanes = await Promise.all(
          Array.from({ length: streams }, async (_, lane) => {
            await sleep((lane * streamDurationMs) / streams);
            const timings: StreamTiming[] = [];
            for (let i = 0; i < streamsPerLane; i++) timings.push(await arm.open());
            return timings;
          }),
        );
      } finally {
        // Also when a stream failed: the processes are stopped next, and the sample would then
        // fail in place of the stream's error.
        clearTimeout(sampler);
      }
      // The first stream of each lane starts before full concurrency is reached: not counted.
      const counted = lanes.flatMap((timings) => (timings.length > 1 ? timings.slice(1) : timings));
      return {
        streams: counted,
        ...(rss !== undefined ? { rssInBytes: rss, rssGrowthPerStream: (rss - rssBefore) / streams } : {}),
        ...(pid
          ? cpuPerStream(cpuMs(pid) - cpuBefore, performance.now() - startedAt, idleCpuMsPerSecond.get(pid)!, streams * streamsPerLane)
          : {}),
      };
    };

    // Part 1: `runs` rounds at the per-instance concurrency. Each round takes the five arms in
    // another order (a rotation, reversed every other round), so each runs first, last and after
    // each of the others in turn and neither machine drift nor what the previous arm left behind
    // favours one of them. Every figure is read per round, against that round's direct arm.
    options.log(
      `chat-streaming: ${options.runs} rounds of direct / function / floor / pass-through / peer at ${options.streams} concurrent streams, ` +
        `${options.streamsPerLane} after one another on each, ${options.maxTokens} tokens each ${TOKEN_GAP_MS} ms apart`,
    );
    const perRun = new Map<Arm, RoundFigures[]>([app, floor, pass, peerArm].map((arm) => [arm, []]));
    for (let run = 0; run < options.runs; run++) {
      const rounds = new Map<Arm, Round>();
      for (const arm of orderFor(arms, run)) rounds.set(arm, await runRound(arm, options.streams, options.streamsPerLane));
      for (const [arm, list] of perRun) list.push(figuresOf(rounds.get(arm)!, rounds.get(direct)!));
      const line = [app, floor, pass, peerArm].map((arm) => {
        const f = perRun.get(arm)!.at(-1)!;
        return `${arm.name} p50 +${round(f.p50, 1)} p99 +${round(f.p99, 1)} pacing +${round(f.pacing, 1)} cpu ${round(f.cpu ?? 0, 1)} (${round(f.marginalCpu ?? 0, 1)} above idle)`;
      });
      options.log(`  round ${run + 1}: ${line.join(" | ")}`);
    }

    // Part 2: capacity. Each run steps the concurrency up, level by level; at each level the direct
    // arm and every arm still holding run one round each (in rotating order), and an arm stops
    // holding at the first level where its added p99 time to first token passes the limit. Later
    // runs start a little below the lowest capacity found so far, to keep the run short.
    const capacityArms = [app, floor, pass, peerArm];
    const capacities = new Map<Arm, number[]>(capacityArms.map((arm) => [arm, []]));
    const cpuAt = new Map<Arm, number[]>(capacityArms.map((arm) => [arm, []]));
    const levels = options.capacityLevels;
    for (let run = 0; run < options.capacityRuns; run++) {
      const found = [...capacities.values()].flat();
      const lowest = found.length > 0 ? Math.min(...found) : levels[0]!;
      let index = Math.max(0, levels.findIndex((level) => level >= lowest) - 1);
      let holding = [...capacityArms];
      const held = new Map<Arm, number>(capacityArms.map((arm) => [arm, index > 0 ? levels[index - 1]! : 0]));
      const steps: string[] = [];
      for (; index < levels.length && holding.length > 0; index++) {
        const level = levels[index]!;
        const order = orderFor([direct, ...holding], run + index);
        const rounds = new Map<Arm, Round>();
        for (const arm of order) rounds.set(arm, await runRound(arm, level, options.capacityStreamsPerLane));
        const step: string[] = [];
        for (const arm of holding) {
          const f = figuresOf(rounds.get(arm)!, rounds.get(direct)!);
          step.push(`${arm.name} +${round(f.p99, 0)}`);
          if (level === options.cpuLevel && f.marginalCpu !== undefined) cpuAt.get(arm)!.push(f.marginalCpu);
          if (f.p99 <= CAPACITY_LIMIT_MS) held.set(arm, level);
        }
        holding = holding.filter((arm) => held.get(arm) === level);
        steps.push(`${level}: ${step.join(" ")}`);
      }
      // An arm still holding at the last level is reported at it (a lower bound).
      for (const arm of capacityArms) capacities.get(arm)!.push(held.get(arm)!);
      options.log(`  capacity run ${run + 1} (added p99 ms): ${steps.join("; ")}`);
    }

    return capacityAndLatencyFigures({
      options,
      app,
      floor,
      pass,
      peer: peerArm,
      perRun,
      capacities,
      cpuAt,
      idleRss,
      idleCpuMsPerSecond,
      levels,
    });
  } finally {
    await Promise.allSettled(hosts.map((host) => host.stop()));
    await Promise.allSettled([simulator?.stop(), azurite.stop(), peer?.stop()]);
    if (hostJsonDir) rmSync(hostJsonDir, { recursive: true, force: true });
  }
}

/** CPU per stream of one round, gross and above the process's idle rate over the round's time. */
function cpuPerStream(
  usedMs: number,
  elapsedMs: number,
  idleMsPerSecond: number,
  opened: number,
): Pick<Round, "cpuMsPerStream" | "marginalCpuMsPerStream"> {
  return { cpuMsPerStream: usedMs / opened, marginalCpuMsPerStream: (usedMs - (idleMsPerSecond * elapsedMs) / 1000) / opened };
}

/** CPU ms per second of each process over `ms` with nothing to serve. */
async function sampleIdleCpu(pids: readonly number[], ms: number): Promise<Map<number, number>> {
  const before = new Map(pids.map((pid) => [pid, cpuMs(pid)]));
  const started = performance.now();
  await sleep(ms);
  const seconds = (performance.now() - started) / 1000;
  return new Map(pids.map((pid) => [pid, (cpuMs(pid) - before.get(pid)!) / seconds]));
}

/** The arms in the order for round `n`: rotated by n, reversed every other round. */
function orderFor<T>(arms: readonly T[], n: number): T[] {
  const rotated = arms.map((_, i) => arms[(i + n) % arms.length]!);
  return Math.floor(n / arms.length) % 2 === 1 ? rotated.reverse() : rotated;
}

function capacityAndLatencyFigures(input: {
  options: ChatStreamingOptions;
  app: Arm;
  floor: Arm;
  pass: Arm;
  peer: Arm;
  perRun: Map<Arm, RoundFigures[]>;
  capacities: Map<Arm, number[]>;
  cpuAt: Map<Arm, number[]>;
  idleRss: Map<number, number>;
  idleCpuMsPerSecond: Map<number, number>;
  levels: readonly number[];
}): Figure[] {
  const { options, app, floor, pass, peer, perRun, capacities, cpuAt, idleRss, idleCpuMsPerSecond } = input;
  const n = options.streams;
  const runs = (arm: Arm) => perRun.get(arm)!;
  const med = (values: readonly number[]) => percentile(values, 50);
  type Key = "p50" | "p99" | "pacing" | "cpu" | "marginalCpu";
  const of = (arm: Arm, key: Key) => runs(arm).map((f) => f[key] ?? Number.NaN);
  // What the app adds over the floor, per round (both read against that round's direct arm).
  const overFloor = (key: Key) => runs(app).map((f, i) => (f[key] ?? Number.NaN) - (runs(floor)[i]![key] ?? Number.NaN));
  // What the upstream call alone adds over the floor, and the app over that, per round.
  const passOverFloor = (key: Key) => runs(pass).map((f, i) => (f[key] ?? Number.NaN) - (runs(floor)[i]![key] ?? Number.NaN));
  const overPass = (key: Key) => runs(app).map((f, i) => (f[key] ?? Number.NaN) - (runs(pass)[i]![key] ?? Number.NaN));
  /** The same reading against the pass-through floor: what the app's own work adds to the upstream call every gateway makes. */
  const againstPass = (key: Key, label: string): Figure => ({
    name: `${label}: app vs pass-through floor (the floor plus the upstream call, bytes relayed unchanged)`,
    value: round(med(of(app, key)), 2),
    unit: "ms",
    baseline: { name: "pass-through", value: round(med(of(pass, key)), 2) },
    ratio: round(med(overPass(key)), 2),
    ratioMeaning: `ms the app adds over the pass-through floor; ${runsSpread(overPass(key), "ms", 2)}`,
    spread: `pass-through - floor ${round(med(passOverFloor(key)), 2)} ms (${runsSpread(passOverFloor(key), "ms", 2)}); pass-through ${runsSpread(of(pass, key), "ms")}`,
  });

  const latency = (key: "p50" | "p99", label: string, limit: number): Figure[] => {
    const added = overFloor(key);
    return [
      {
        name: `added time to first token over direct, ${label} (${n} streams): app vs floor`,
        value: round(med(of(app, key)), 2),
        unit: "ms",
        baseline: { name: "floor", value: round(med(of(floor, key)), 2) },
        ratio: round(med(added), 2),
        ratioMeaning: `ms the app adds over the floor; ${runsSpread(added, "ms", 2)}`,
        spread: `app ${runsSpread(of(app, key), "ms")}; floor ${runsSpread(of(floor, key), "ms")}`,
        target: `app - floor <= ${limit} ms`,
        pass: med(added) <= limit,
      },
      {
        name: `added time to first token over direct, ${label} (${n} streams): peer gateway vs app`,
        value: round(med(of(peer, key)), 2),
        unit: "ms",
        baseline: { name: "app", value: round(med(of(app, key)), 2) },
        ratio: round(med(of(peer, key)) - med(of(app, key)), 2),
        ratioMeaning: "ms the peer adds over the app",
        spread: `peer ${runsSpread(of(peer, key), "ms")}`,
        target: "app ahead of the peer",
        pass: med(of(app, key)) < med(of(peer, key)),
      },
    ];
  };
  const pacing = overFloor("pacing");
  const cpu = overFloor("cpu");
  const marginalCpu = overFloor("marginalCpu");
  const idle = (arm: Arm) => round(idleCpuMsPerSecond.get(arm.pid!)!, 1);
  const figures: Figure[] = [
    ...latency("p50", "p50", 1),
    againstPass("p50", `added time to first token over direct, p50 (${n} streams)`),
    ...latency("p99", "p99", 5),
    againstPass("p99", `added time to first token over direct, p99 (${n} streams)`),
    {
      name: `chunk arrival vs upstream pacing, added p99 deviation over direct (${n} streams): app vs floor`,
      value: round(med(of(app, "pacing")), 2),
      unit: "ms",
      baseline: { name: "floor", value: round(med(of(floor, "pacing")), 2) },
      ratio: round(med(pacing), 2),
      ratioMeaning: `ms the app adds over the floor; ${runsSpread(pacing, "ms", 2)}`,
      spread: `app ${runsSpread(of(app, "pacing"), "ms")}; floor ${runsSpread(of(floor, "pacing"), "ms")}; peer ${round(med(of(peer, "pacing")), 1)} ms (${runsSpread(of(peer, "pacing"), "ms")})`,
      target: "app - floor <= 2 ms",
      pass: med(pacing) <= 2,
    },
    againstPass("pacing", `chunk arrival vs upstream pacing, added p99 deviation over direct (${n} streams)`),
    {
      name: `serving process CPU per 20-chunk stream above its idle CPU (${n} streams): app vs floor`,
      value: round(med(of(app, "marginalCpu")), 2),
      unit: "ms",
      baseline: { name: "floor", value: round(med(of(floor, "marginalCpu")), 2) },
      ratio: round(med(marginalCpu), 2),
      ratioMeaning: `ms of CPU the app adds over the floor; ${runsSpread(marginalCpu, "ms", 2)}`,
      spread: `app ${runsSpread(of(app, "marginalCpu"), "ms")}; floor ${runsSpread(of(floor, "marginalCpu"), "ms")}; peer gateway ${round(med(of(peer, "marginalCpu")), 1)} ms; idle CPU app host ${idle(app)} ms/s, floor host ${idle(floor)} ms/s, peer ${idle(peer)} ms/s`,
      target: "app - floor <= 1.5 ms",
      pass: med(marginalCpu) <= 1.5,
    },
    againstPass("marginalCpu", `serving process CPU per 20-chunk stream above its idle CPU (${n} streams)`),
    {
      name: `serving process CPU per 20-chunk stream, gross (${n} streams): app vs floor`,
      value: round(med(of(app, "cpu")), 2),
      unit: "ms",
      baseline: { name: "floor", value: round(med(of(floor, "cpu")), 2) },
      ratio: round(med(cpu), 2),
      ratioMeaning: `ms of CPU the app's host uses over the floor's, idle work included; ${runsSpread(cpu, "ms", 2)}`,
      spread: `app ${runsSpread(of(app, "cpu"), "ms")}; floor ${runsSpread(of(floor, "cpu"), "ms")}; peer gateway ${round(med(of(peer, "cpu")), 1)} ms`,
    },
  ];
  const appCpuAt = cpuAt.get(app)!;
  const floorCpuAt = cpuAt.get(floor)!;
  if (appCpuAt.length > 0 && floorCpuAt.length > 0) {
    const peerCpuAt = cpuAt.get(peer)!;
    figures.push({
      name: `serving process CPU per 20-chunk stream above its idle CPU (${options.cpuLevel} streams, capacity runs): app vs floor`,
      value: round(med(appCpuAt), 2),
      unit: "ms",
      baseline: { name: "floor", value: round(med(floorCpuAt), 2) },
      ratio: round(med(appCpuAt) - med(floorCpuAt), 2),
      ratioMeaning: "ms of CPU the app adds over the floor (medians)",
      spread: `app ${runsSpread(appCpuAt, "ms")}; floor ${runsSpread(floorCpuAt, "ms")}${peerCpuAt.length > 0 ? `; peer gateway ${round(med(peerCpuAt), 1)} ms` : ""}`,
      target: "app - floor <= 1.5 ms",
      pass: med(appCpuAt) - med(floorCpuAt) <= 1.5,
    });
  }
  // RSS growth of the serving process with every stream open, per open stream.
  const memory = (arm: Arm) => {
    const rss = runs(arm)
      .map((f) => f.rss)
      .filter((v): v is number => v !== undefined);
    return rss.length > 0 ? med(rss) / 1024 : undefined;
  };
  const [appMemory, floorMemory, peerMemory] = [memory(app), memory(floor), memory(peer)];
  if (appMemory !== undefined && floorMemory !== undefined) {
    figures.push({
      name: `serving process memory (RSS) per open stream (${n} streams): app vs floor`,
      value: round(appMemory, 1),
      unit: "KiB",
      baseline: { name: "floor", value: round(floorMemory, 1) },
      spread: `RSS idle ${round(idleRss.get(app.pid!)! / 2 ** 20)} MiB (app host); garbage not yet collected included${peerMemory !== undefined ? `; peer gateway ${round(peerMemory, 1)} KiB` : ""}`,
    });
  }
  const capacity = (arm: Arm) => med(capacities.get(arm)!);
  const top = input.levels.at(-1)!;
  const capacitySpread = (arm: Arm) =>
    `${runsSpread(capacities.get(arm)!, "streams", 0)}${capacities.get(arm)!.includes(top) ? ` (${top}: still held at the last step)` : ""}`;
  // 0 when an arm did not hold even the first step.
  const ratio = capacity(floor) > 0 ? capacity(app) / capacity(floor) : 0;
  figures.push(
    {
      name: `capacity: streams one process holds before the added p99 time to first token passes ${CAPACITY_LIMIT_MS} ms: app vs floor`,
      value: capacity(app),
      unit: "streams",
      baseline: { name: "floor", value: capacity(floor) },
      ratio: round(ratio, 2),
      ratioMeaning: "app / floor",
      spread: `app ${capacitySpread(app)}; floor ${capacitySpread(floor)}; steps ${input.levels.join(", ")}`,
      target: ">= 0.75 of the floor's",
      pass: ratio >= 0.75,
    },
    {
      name: `capacity (added p99 time to first token <= ${CAPACITY_LIMIT_MS} ms): app vs pass-through floor`,
      value: capacity(app),
      unit: "streams",
      baseline: { name: "pass-through", value: capacity(pass) },
      ...(capacity(pass) > 0 ? { ratio: round(capacity(app) / capacity(pass), 2) } : {}),
      ratioMeaning: "app / pass-through",
      spread: `pass-through ${capacitySpread(pass)}; pass-through / floor ${capacity(floor) > 0 ? round(capacity(pass) / capacity(floor), 2) : "n/a"}`,
    },
    {
      name: `capacity (added p99 time to first token <= ${CAPACITY_LIMIT_MS} ms): peer gateway vs app`,
      value: capacity(peer),
      unit: "streams",
      baseline: { name: "app", value: capacity(app) },
      ...(capacity(peer) > 0 ? { ratio: round(capacity(app) / capacity(peer), 2) } : {}),
      ratioMeaning: "app / peer",
      spread: `peer ${capacitySpread(peer)}`,
      target: "app ahead of the peer",
      pass: capacity(app) > capacity(peer),
    },
  );
  for (const f of figures)
    options.log(`${f.name}: ${f.value} ${f.unit}${f.baseline ? ` (${f.baseline.name} ${f.baseline.value})` : ""}; ${f.ratio ?? ""}`);
  return figures;
}

/**
 * The CPU the app's own code adds per streamed chunk, without any host: the chat service and SSE
 * encoding in this process against the simulator (no latency), minus the same streams read raw
 * through the same transport (undici's request API).
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
    // The same stream through the same transport as the app's (undici's request API), read and dropped.
    const raw = async () => {
      const response = await undiciRequest(`${simulator.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "api-key": simulator.apiKey },
        body: JSON.stringify({ model: DEPLOYMENT, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
      });
      for await (const _bytes of response.body) void _bytes;
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
      // The table prints the baseline in the figure's unit: CPU of the raw read per chunk, in µs.
      baseline: { name: "the same stream read raw with undici.request", value: round((percentile(rawCpu, 50) / chunksPerRun) * 1000, 1) },
      spread: `${round(percentile(appCpu, 50) / streams, 2)} ms CPU per stream through the app code, ${round(chunksPerRun / streams)} SSE writes per stream`,
    };
  } finally {
    await simulator.stop();
  }
}

export const chatStreaming: Benchmark = {
  name: "chat-streaming",
  description:
    "streamed chat: app vs do-nothing floor vs pass-through floor vs a peer gateway vs the simulator directly, at 16 streams (added TTFT, pacing, CPU, memory) and capacity",
  async run({ tiny, log }) {
    const figures = await measureChatStreaming(
      tiny
        ? {
            streams: 4,
            streamsPerLane: 2,
            runs: 1,
            maxTokens: 5,
            capacityLevels: [4, 8],
            capacityRuns: 1,
            capacityStreamsPerLane: 2,
            cpuLevel: 8,
            idleSampleMs: 1_000,
            log,
          }
        : {
            streams: 16,
            streamsPerLane: 4,
            runs: 6,
            maxTokens: 20,
            capacityLevels: [16, 32, 48, 64, 80, 100, 120, 140, 160, 180, 200, 240, 280, 320, 400],
            capacityRuns: 5,
            capacityStreamsPerLane: 2,
            cpuLevel: 100,
            idleSampleMs: 10_000,
            log,
          },
    );
    const cpu = await measureAppCpuPerChunk(tiny ? 10 : 200, 20);
    log(`${cpu.name}: ${cpu.value} ${cpu.unit} (${cpu.spread})`);
    return [...figures, cpu];
  },
};
