/**
 * The local host's queue and blob triggers against the real WebJobs SDK (the NuGet packages the
 * Functions host runs them with): each scenario runs under both, against a fresh Azurite each, with
 * the same settings, and what each left in storage and what its handlers saw must agree. Two
 * phases: host.json messageEncoding base64 and none. Then the app's transcriptionGivenUp handles
 * the blob poison message the SDK itself wrote.
 *
 * Needs the .NET SDK (the oracle in oracle/ is built on first use and cached). Without it the
 * comparison is skipped with a message; CI sets WEBJOBS_ORACLE_REQUIRED=1, which makes it fail.
 * Raw and compared observations are written to dist/conformance/ for reading.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { comparable, SCENARIO_TITLES, type Comparable } from "./lib/compare.js";
import { runAppOnSdkPoison, type GivenUpOutcome } from "./lib/given-up-check.js";
import { buildOracle, oracleRequired, probeDotnet, skipMessage } from "./lib/oracle-build.js";
import { runPhase, type PhaseResult } from "./lib/scenarios.js";
import { phaseSettings, type MessageEncoding } from "./lib/settings.js";
import { startLocalHost, startOracle } from "./lib/trigger-hosts.js";

const dotnet = probeDotnet();
const ENCODINGS: MessageEncoding[] = ["base64", "none"];
const OUT_DIR = path.join(REPO_ROOT, "dist", "conformance");

if (!dotnet.version && oracleRequired()) {
  describe("WebJobs conformance", () => {
    it("has the .NET SDK (WEBJOBS_ORACLE_REQUIRED is set)", () => {
      throw new Error(`${skipMessage(dotnet)} WEBJOBS_ORACLE_REQUIRED is set, so this fails instead of skipping.`);
    });
  });
} else if (!dotnet.version) {
  console.warn(skipMessage(dotnet));
}

describe.skipIf(!dotnet.version)(
  dotnet.version ? `local host vs the WebJobs SDK (.NET ${dotnet.version})` : "local host vs the WebJobs SDK: skipped, no .NET SDK on PATH",
  () => {
    const compared = {} as Record<MessageEncoding, { sdk: Record<string, Comparable>; local: Record<string, Comparable> }>;
    let sdkBase64: PhaseResult | undefined;
    let givenUp: GivenUpOutcome | undefined;

    beforeAll(async () => {
      const timings: string[] = [];
      const build = await buildOracle(dotnet.version!);
      timings.push(`oracle ${build.built ? "built" : "reused from cache"} in ${build.ms} ms`);
      mkdirSync(OUT_DIR, { recursive: true });
      for (const encoding of ENCODINGS) {
        const settings = phaseSettings(encoding);
        const sdk = await runPhase((options) => startOracle(build.dll, options), settings);
        const local = await runPhase(startLocalHost, settings).catch(async (error: unknown) => {
          await sdk.azurite.stop();
          throw error;
        });
        await local.azurite.stop();
        timings.push(`${encoding}: SDK phase ${sdk.ms} ms, local host phase ${local.ms} ms`);
        compared[encoding] = { sdk: comparable(sdk, settings), local: comparable(local, settings) };
        writeFileSync(
          path.join(OUT_DIR, `${encoding}.json`),
          JSON.stringify({ settings, compared: compared[encoding], raw: { sdk: sdk.observation, local: local.observation } }, null, 2),
        );
        if (encoding === "base64") sdkBase64 = sdk;
        else await sdk.azurite.stop();
      }
      const started = Date.now();
      givenUp = await runAppOnSdkPoison(sdkBase64!.azurite.connectionString, sdkBase64!.blobs, sdkBase64!.queues);
      timings.push(`the app's given-up handling ${Date.now() - started} ms`);
      console.info(`WebJobs conformance: ${timings.join("; ")}. Observations: ${OUT_DIR}`);
    }, 900_000);

    afterAll(async () => {
      await sdkBase64?.azurite.stop();
    });

    for (const encoding of ENCODINGS) {
      describe(`host.json messageEncoding ${encoding}`, () => {
        for (const title of SCENARIO_TITLES) {
          it(title, () => {
            const { sdk, local } = compared[encoding];
            expect(local[title], `local host (left) vs WebJobs SDK (right); see ${OUT_DIR}/${encoding}.json`).toEqual(sdk[title]);
          });
        }
      });
    }

    it("the SDK's blob poison message names the failing function, container, blob and version", () => {
      const scenario = compared.base64.sdk["blob (LogsAndContainerScan): a handler that fails every time"] as { poisonMessages: string[] };
      expect(scenario.poisonMessages).toHaveLength(1);
      expect(JSON.parse(scenario.poisonMessages[0]!)).toMatchObject({
        Type: "BlobTrigger",
        FunctionId: "Host.Functions.transcribeAudio",
        ContainerName: "audio",
        BlobName: "talk.wav",
      });
    });

    it("the app's transcriptionGivenUp records the give-up from the message the real SDK wrote", () => {
      expect(givenUp?.status, givenUp?.hostOutput.split("\n").slice(-40).join("\n")).toMatchObject({
        name: "talk.wav",
        state: "failed",
        source: { container: "audio", name: "talk.wav", etag: sdkBase64?.seeds.etags["audio/talk.wav v1"] },
        error: { code: "delivery_limit_reached", willRetry: false },
      });
      expect(givenUp?.poisonLeft).toBe(0);
    });
  },
);
