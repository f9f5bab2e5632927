import { describe, expect, it } from "vitest";
import { checkBlobName } from "../../src/console-api/names.js";

describe("checkBlobName", () => {
  it("keeps names inside the container, virtual folders included", () => {
    for (const name of ["a.wav", "2024/call.mp3", "with space/it's.wav"]) expect(checkBlobName(name, "audio")).toBe(name);
  });

  it("refuses names that are empty, overlong, climb out or carry control characters, saying why", () => {
    const cases: [string | undefined, string][] = [
      [undefined, "is empty"],
      ["", "is empty"],
      ["x".repeat(1025), "longer than 1024"],
      ["../transcripts/a.json", "`..` segment"],
      ["a/./b", "`.` or `..` segment"],
      ["/a", "empty"],
      ["a//b", "empty"],
      ["a\\..\\b", "backslash"],
      ["a\nb", "control character"],
    ];
    for (const [name, reason] of cases) expect(() => checkBlobName(name, "audio"), String(name)).toThrow(reason);
  });
});
