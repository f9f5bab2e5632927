import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.js";
import { parseTranscriptionOptions } from "../../src/transcription/options.js";
import { stitchTranscripts, type ChunkTranscript } from "../../src/transcription/stitch.js";
import { timestamp, toSrt, toVtt } from "../../src/transcription/writers.js";

describe("options from blob metadata", () => {
  it("defaults to transcribing into all four formats", () => {
    expect(parseTranscriptionOptions({ author: "someone else's metadata" })).toEqual({
      task: "transcribe",
      formats: ["json", "txt", "srt", "vtt"],
    });
  });

  it("reads every option, case-insensitively, and decodes a percent-encoded prompt", () => {
    expect(
      parseTranscriptionOptions({ Language: "DE", prompt: "Gr%C3%BC%C3%9Fe%2C%20Contoso", temperature: "0.3", formats: "vtt,JSON" }),
    ).toEqual({ task: "transcribe", language: "de", prompt: "Grüße, Contoso", temperature: 0.3, formats: ["json", "vtt"] });
    expect(parseTranscriptionOptions({ prompt: "100% sure" }).prompt).toBe("100% sure");
    expect(parseTranscriptionOptions({ task: "translate" }).task).toBe("translate");
  });

  it("reports every invalid value at once instead of ignoring it", () => {
    let error: AppError | undefined;
    try {
      parseTranscriptionOptions({ language: "english", temperature: "1.5", task: "summarize", formats: "txt,docx" });
    } catch (e) {
      error = e as AppError;
    }
    expect(error).toMatchObject({ kind: "bad_input", code: "invalid_options" });
    expect((error!.details as { problems: string[] }).problems).toHaveLength(4);
    for (const word of ["english", "1.5", "summarize", "docx"]) expect(error!.message).toContain(word);
    expect(() => parseTranscriptionOptions({ task: "translate", language: "fr" })).toThrow(/translation detects the spoken language/);
  });

  it("takes `model` among the models that transcribe, and names them when it is not one", () => {
    const models = ["whisper", "whisper-eu"];
    expect(parseTranscriptionOptions({ Model: "whisper-eu" }, models)).toMatchObject({ model: "whisper-eu" });
    expect(parseTranscriptionOptions({ model: " " }, models)).not.toHaveProperty("model");
    expect(() => parseTranscriptionOptions({ model: "gpt-4o", language: "english" }, models)).toThrow(
      /"english".*model "gpt-4o" is not a model that transcribes here; use "whisper" or "whisper-eu", or remove the model metadata/s,
    );
  });
});

describe("stitching", () => {
  const chunk = (index: number, start: number, end: number, segments: Array<[number, number, string]>): ChunkTranscript => ({
    index,
    startInSeconds: start,
    endInSeconds: end,
    text: segments.map((s) => s[2]).join(" "),
    language: "english",
    duration: end - start,
    segments: segments.map(([s, e, text]) => ({ start: s, end: e, text: ` ${text}` })),
  });

  it("offsets each chunk, clamps overshoot, drops empty segments and keeps strict order", () => {
    const transcript = stitchTranscripts(
      [
        chunk(1, 10, 20, [
          [0, 4, "third"],
          [4, 10.2, "fourth"],
        ]),
        chunk(0, 0, 10, [
          [0, 5, "first"],
          [4.9, 10.05, "second"],
          [10, 10, " "],
        ]),
      ],
      20,
    );
    expect(transcript.segments).toEqual([
      { id: 0, start: 0, end: 5, text: "first" },
      { id: 1, start: 5, end: 10, text: "second" },
      { id: 2, start: 10, end: 14, text: "third" },
      { id: 3, start: 14, end: 20, text: "fourth" },
    ]);
    expect(transcript.text).toBe("first second third fourth");
    expect(transcript.duration).toBe(20);
  });
});

describe("subtitle writers", () => {
  const segments = [
    { id: 0, start: 0, end: 2.5, text: "Hello --> there" },
    { id: 1, start: 3661.001, end: 3662, text: "An hour\n\nlater" },
  ];

  it("formats SRT and WebVTT cues with valid times and text", () => {
    expect(timestamp(3661.0005, ",")).toBe("01:01:01,001");
    expect(toSrt(segments)).toBe("1\n00:00:00,000 --> 00:00:02,500\nHello -> there\n\n2\n01:01:01,001 --> 01:01:02,000\nAn hour\nlater\n");
    expect(toVtt(segments)).toBe(
      "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello -&gt; there\n\n01:01:01.001 --> 01:01:02.000\nAn hour\nlater\n",
    );
  });

  it("escapes WebVTT markup in cue text, and keeps speakers as voice spans", () => {
    const said = [{ id: 0, start: 0, end: 1, text: "R&D says x < y", speaker: "Ana" }];
    expect(toVtt(said)).toBe("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana>R&amp;D says x &lt; y\n");
    expect(toSrt(said)).toBe("1\n00:00:00,000 --> 00:00:01,000\nAna: R&D says x < y\n");
  });
});
