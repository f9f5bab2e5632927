/**
 * Speech and images turned off (their deployment settings present but empty) and legacy
 * completions left unset: each endpoint answers 404 model_not_found naming the setting that turns
 * it on, without calling Azure.
 */
import OpenAI, { NotFoundError, toFile } from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    env: {
      HTTP_AUTH_LEVEL: "anonymous",
      AZURE_OPENAI_SPEECH_DEPLOYMENT: "",
      AZURE_OPENAI_IMAGES_DEPLOYMENT: "",
      AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: undefined,
    },
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

const notFound = (promise: Promise<unknown>) =>
  promise.then(
    () => Promise.reject(new Error("expected a 404")),
    (error: unknown) => error as NotFoundError,
  );

it("answers 404 model_not_found naming the setting, for each capability that is off", async () => {
  // Thunks, so each call starts (and fails) only when it is awaited.
  const cases: [() => Promise<unknown>, string][] = [
    [() => client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "coral", input: "hi" }), "AZURE_OPENAI_SPEECH_DEPLOYMENT"],
    [() => client.images.generate({ model: "gpt-image-1", prompt: "x" }), "AZURE_OPENAI_IMAGES_DEPLOYMENT"],
    [
      async () =>
        client.images.edit({ model: "gpt-image-1", prompt: "x", image: await toFile(Buffer.from([0x89, 0x50, 0x4e, 0x47]), "a.png") }),
      "AZURE_OPENAI_IMAGES_DEPLOYMENT",
    ],
    [() => client.completions.create({ model: "gpt-35-turbo-instruct", prompt: "x" }), "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT"],
  ];
  for (const [call, setting] of cases) {
    const error = await notFound(call());
    expect(error).toBeInstanceOf(NotFoundError);
    expect([error.code, error.param]).toEqual(["model_not_found", "model"]);
    expect(error.message).toContain(setting);
  }
  expect(await stack.simulator.control.journal()).toEqual([]);
});
