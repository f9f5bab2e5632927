import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FaultRule, Simulator } from "../../tools/simulator/index.js";
import { FaultSelector, scheduleWindow } from "../../tools/simulator/faults.js";
import { API_VERSION, azureClient, startFast } from "./helpers.js";

// Faults on a schedule: 429 storms and 5xx bursts at set times after the rules were set, for
// routing tests and benches (a backend throttled for a while, another failing in bursts).
let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({ deployments: [{ name: "chat", model: "gpt-4o-mini", capability: "chat" }] });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const messages = [{ role: "user" as const, content: "Hi" }];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function chat(): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/chat/chat/completions?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
  });
}

/** Sets the rules and returns when they were set, by this process's clock (the schedule starts a little after). */
async function setFaults(rules: FaultRule[]): Promise<number> {
  const before = performance.now();
  await sim.control.setFaults("chat", rules);
  return before;
}

/** Waits until `ms` after `since`. */
async function at(since: number, ms: number): Promise<void> {
  await sleep(since + ms - performance.now());
}

describe("scheduleWindow: whether a rule is on, and for how much longer", () => {
  it("from, until, and a period with an active part", () => {
    const rule = (fields: Partial<FaultRule>): FaultRule => ({ kind: 500, ...fields });
    expect(scheduleWindow(rule({}), 5000)).toEqual({ active: true });
    expect(scheduleWindow(rule({ fromMs: 100 }), 99)).toEqual({ active: false });
    expect(scheduleWindow(rule({ fromMs: 100 }), 100)).toEqual({ active: true });
    expect(scheduleWindow(rule({ untilMs: 300 }), 100)).toEqual({ active: true, endsInMs: 200 });
    expect(scheduleWindow(rule({ untilMs: 300 }), 300)).toEqual({ active: false });
    const bursts = rule({ fromMs: 1000, periodMs: 500, activeMs: 100 });
    expect(scheduleWindow(bursts, 999)).toEqual({ active: false });
    expect(scheduleWindow(bursts, 1040)).toEqual({ active: true, endsInMs: 60 });
    expect(scheduleWindow(bursts, 1100)).toEqual({ active: false });
    expect(scheduleWindow(bursts, 1520)).toEqual({ active: true, endsInMs: 80 });
    // The earlier end wins: the stretch, or the end of the whole schedule.
    expect(scheduleWindow({ ...bursts, untilMs: 1530 }, 1520)).toEqual({ active: true, endsInMs: 10 });
  });

  it("a selector counts only requests inside the schedule, from when it was made or reset", () => {
    let now = 0;
    const selector = new FaultSelector("seed", () => now);
    const rules: FaultRule[] = [{ kind: 500, fromMs: 100, every: 2 }];
    expect(selector.select(rules, "chat/completions")).toEqual([]);
    now = 150;
    expect(selector.select(rules, "chat/completions")).toEqual([]);
    expect(selector.select(rules, "chat/completions")).toEqual(rules);
    selector.reset();
    expect(selector.select(rules, "chat/completions")).toEqual([]);
  });
});

describe("scheduled faults over HTTP", () => {
  it("a 429 storm asks for a retry when it ends, and the openai client, honouring retry-after-ms, gets through", async () => {
    await setFaults([{ kind: 429, untilMs: 400 }]);
    const storm = await chat();
    expect(storm.status).toBe(429);
    const retryAfterMs = Number(storm.headers.get("retry-after-ms"));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(400);
    expect(storm.headers.get("retry-after")).toBe("1");

    const answer = await azureClient(sim, { maxRetries: 3 }).chat.completions.create({ model: "chat", messages });
    expect(answer.choices).toHaveLength(1);
    const statuses = (await sim.control.journal()).map((entry) => entry.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(2);
  });

  it("5xx bursts: on for the first 300 ms of every 1000 ms", async () => {
    const since = await setFaults([{ kind: 500, periodMs: 1000, activeMs: 300 }]);
    const seen: number[] = [];
    for (const ms of [50, 650, 1100, 1650]) {
      await at(since, ms);
      seen.push((await chat()).status);
    }
    expect(seen).toEqual([500, 200, 500, 200]);
  });

  it("fromMs: quiet first; times then counts only requests inside the schedule", async () => {
    const since = await setFaults([{ kind: 503, fromMs: 300, times: 1 }]);
    expect((await chat()).status).toBe(200);
    await at(since, 400);
    const burst = await chat();
    expect(burst.status).toBe(503);
    // No end to the schedule: a 503's own default retry-after.
    expect(burst.headers.get("retry-after-ms")).toBe("1000");
    expect((await chat()).status).toBe(200);
  });

  it("a reset restarts the schedule", async () => {
    await setFaults([{ kind: 500, untilMs: 250 }]);
    await sleep(350);
    expect((await chat()).status).toBe(200);
    await sim.control.reset({ keepDeployments: true });
    expect((await chat()).status).toBe(500);
  });

  it("a schedule that cannot fire is refused", async () => {
    await expect(sim.control.setFaults("chat", [{ kind: 500, periodMs: 1000 }])).rejects.toThrow(/periodMs and activeMs/);
    await expect(sim.control.setFaults("chat", [{ kind: 500, periodMs: 100, activeMs: 200 }])).rejects.toThrow(/activeMs/);
    await expect(sim.control.setFaults("chat", [{ kind: 500, fromMs: 500, untilMs: 100 }])).rejects.toThrow(/untilMs/);
  });
});
