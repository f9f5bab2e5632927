/**
 * The test stack with extra simulator resources: `startStack`'s `simulator.resources` starts them
 * and `envFromSimulator` points the app at one of them, which it then reaches with its real
 * managed-identity code path: a token from the primary's one identity endpoint, accepted there.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    simulator: { resources: [{ name: "westeurope" }] },
    envFromSimulator: (simulator) => ({ AZURE_OPENAI_ENDPOINT: simulator.resources[0]!.url }),
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe("startStack with simulator resources", () => {
  it("the app, pointed at an extra resource, authenticates there with the one identity's token", async () => {
    const [westeurope] = stack.simulator.resources;
    expect(stack.settings.AZURE_OPENAI_ENDPOINT).toBe(westeurope!.url);
    // The identity stays the primary's: the app's one IDENTITY_ENDPOINT.
    expect(stack.settings.IDENTITY_ENDPOINT).toBe(stack.simulator.identity.endpoint);
    const client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused-locally", maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expect(answer.choices).toHaveLength(1);
    const journal = await westeurope!.control.journal();
    expect(journal.map((entry) => [entry.deployment, entry.auth, entry.status])).toEqual([["gpt-4o-mini", "entra", 200]]);
    expect(await stack.simulator.control.journal()).toEqual([]);
  });
});
