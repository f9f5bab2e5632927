import { describe, expect, it } from "vitest";
import { alternate, median, percentile } from "../../bench/harness.js";
import { formatTable } from "../../bench/format-table.js";

describe("harness statistics", () => {
  it("median and nearest-rank percentiles", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1, Number.NaN, 3], 50)).toThrow("NaN");
  });

  it("alternates A and B, swapping the order every round", async () => {
    const order: string[] = [];
    const result = await alternate(
      3,
      async () => order.push("a"),
      async () => order.push("b"),
    );
    expect(order).toEqual(["a", "b", "b", "a", "a", "b"]);
    expect(result.a).toHaveLength(3);
  });

  it("formats a Markdown table with pass/fail", () => {
    const table = formatTable([{ benchmark: "x", figures: [{ name: "load", value: 10, unit: "ms", target: "<= 60 ms", pass: true }] }]);
    expect(table.split("\n")[2]).toBe("| x | load | 10 ms |  |  | <= 60 ms | yes |");
  });
});
