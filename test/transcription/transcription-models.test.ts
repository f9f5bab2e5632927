/**
 * The model table against the facts copied from OpenAI's reference (the fixture says where), the
 * spec beside it still saying them, and the options a blob may set per model.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.js";
import { parseTranscriptionOptions } from "../../src/transcription/options.js";
import { MODEL_ABILITIES, modelKindOf, modelKindOfName } from "../../src/transcription/transcription-models.js";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/transcription/model-abilities.json", import.meta.url), "utf8")) as {
  models: Record<string, Record<string, unknown>>;
};
const spec = JSON.parse(readFileSync(new URL("../fixtures/specs/openai-openapi.json", import.meta.url), "utf8")) as {
  info: { version: string };
  components: {
    schemas: Record<string, { description?: string; properties?: Record<string, { description?: string; maxItems?: number }> }>;
  };
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: "bad_input", code: "invalid_options" });
    return ((error as AppError).details as { problems: string[] }).problems;
  }
  throw new Error("expected invalid_options");
}

describe("model abilities", () => {
  it("match the facts kept with their sources", () => {
    const table = Object.fromEntries(
      Object.entries(MODEL_ABILITIES).map(([kind, abilities]) => [
        kind,
        {
          ...abilities,
          chunkingStrategyOverSeconds: abilities.chunkingStrategyOverSeconds ?? null,
          maxRequestSeconds: abilities.maxRequestSeconds ?? null,
        },
      ]),
    );
    expect(table).toEqual(fixture.models);
  });

  it("are still what the OpenAPI copy says (version 2.3.0)", () => {
    const schemas = spec.components.schemas;
    const request = schemas.CreateTranscriptionRequest!.properties!;
    expect(spec.info.version).toBe("2.3.0");
    expect(schemas.AudioResponseFormat!.description).toMatch(
      /gpt-4o-transcribe-diarize`, the supported formats are `json`, `text`, and `diarized_json`/,
    );
    expect(request.prompt!.description).toMatch(/not supported when using `gpt-4o-transcribe-diarize`/);
    expect(request.timestamp_granularities!.description).toMatch(/not available for `gpt-4o-transcribe-diarize`/);
    expect(request.include!.description).toMatch(/only with\s+the models `gpt-4o-transcribe`, `gpt-4o-mini-transcribe`/);
    expect(JSON.stringify(request.chunking_strategy)).toMatch(
      /Required when using `gpt-4o-transcribe-diarize` for inputs longer than 30 seconds/,
    );
    expect(request.known_speaker_names!.maxItems).toBe(MODEL_ABILITIES["gpt-4o-transcribe-diarize"].maxKnownSpeakers);
    expect(request.known_speaker_references!.description).toMatch(/between 2 and 10 seconds/);
    expect(schemas.CreateTranslationRequest!.properties!.model!.description).toMatch(/Only `whisper-1`/);
  });

  it("tell the model by the name of the deployment or the table's model", () => {
    expect(modelKindOfName("whisper")).toBe("whisper");
    expect(modelKindOfName("stt-prod")).toBe("whisper");
    expect(modelKindOfName("gpt-4o-transcribe")).toBe("gpt-4o-transcribe");
    expect(modelKindOfName("GPT-4o-mini-transcribe-2025-12-15")).toBe("gpt-4o-mini-transcribe");
    expect(modelKindOfName("eu-gpt-4o-transcribe-diarize")).toBe("gpt-4o-transcribe-diarize");
    expect(modelKindOf("meetings", ["eu-gpt-4o-transcribe-diarize"])).toBe("gpt-4o-transcribe-diarize");
    expect(modelKindOf("meetings", ["stt"])).toBe("whisper");
  });
});

describe("options per model", () => {
  const models = ["whisper", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize"];

  it("reads speakers, speaker_names and words", () => {
    expect(parseTranscriptionOptions({ words: "TRUE" }, models)).toMatchObject({ words: true });
    expect(parseTranscriptionOptions({ model: "gpt-4o-transcribe-diarize" }, models)).toMatchObject({ speakers: true });
    expect(parseTranscriptionOptions({ model: "gpt-4o-transcribe-diarize", speakers: "false" }, models)).not.toHaveProperty("speakers");
    expect(parseTranscriptionOptions({ model: "gpt-4o-transcribe", prompt: "Contoso" }, models)).toMatchObject({ prompt: "Contoso" });
  });

  it("picks the diarizing model for speakers=true when the blob names none", () => {
    expect(parseTranscriptionOptions({ speakers: "true" }, models)).toMatchObject({ model: "gpt-4o-transcribe-diarize", speakers: true });
    expect(parseTranscriptionOptions({ speaker_names: "Ana, Ben%20Ode" }, models)).toMatchObject({
      model: "gpt-4o-transcribe-diarize",
      speakers: true,
      speakerNames: ["Ana", "Ben Ode"],
    });
    expect(problemsOf(() => parseTranscriptionOptions({ speakers: "true" }, ["whisper", "gpt-4o-transcribe"]))).toEqual([
      expect.stringMatching(/speakers=true needs a gpt-4o-transcribe-diarize deployment, and none is configured/),
    ]);
  });

  it("refuses, all at once, what the chosen model cannot do", () => {
    expect(
      problemsOf(() =>
        parseTranscriptionOptions({ model: "gpt-4o-transcribe-diarize", prompt: "Contoso", words: "true", task: "translate" }, models),
      ),
    ).toEqual([
      expect.stringMatching(/does not translate \(only Whisper does\)/),
      expect.stringMatching(/takes no prompt/),
      expect.stringMatching(/gives no word times \(only Whisper does\)/),
      expect.stringMatching(/words=true cannot be used with task=translate/),
    ]);
    expect(problemsOf(() => parseTranscriptionOptions({ model: "gpt-4o-transcribe", speakers: "true", words: "yes" }, models))).toEqual([
      expect.stringMatching(/words "yes" is not valid; use "true" or "false"/),
      expect.stringMatching(/model "gpt-4o-transcribe" \(gpt-4o-transcribe\) does not label speakers/),
    ]);
    expect(problemsOf(() => parseTranscriptionOptions({ model: "whisper", speaker_names: "Ana,,Ben" }, models))).toEqual([
      expect.stringMatching(/speaker_names "Ana,,Ben" must be up to 20 comma-separated names/),
    ]);
    expect(problemsOf(() => parseTranscriptionOptions({ speaker_names: "Ana,Ana", speakers: "false" }, models))).toEqual([
      expect.stringMatching(/names someone twice/),
    ]);
  });
});
