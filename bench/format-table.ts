import type { Figure } from "./harness.js";

/** A Markdown table, so the README can show it as is. */
export function formatTable(results: { benchmark: string; figures: Figure[]; error?: string }[]): string {
  const rows = ["| benchmark | figure | value | side by side | ratio | target | pass |", "|---|---|---|---|---|---|---|"];
  for (const { benchmark, figures, error } of results) {
    if (error) rows.push(`| ${benchmark} | failed: ${error.split("\n")[0]} | | | | | no |`);
    for (const f of figures) {
      const baseline = f.baseline ? `${f.baseline.name}: ${f.baseline.value} ${f.unit}` : "";
      const ratio = f.ratio === undefined ? "" : `${f.ratio}${f.ratioMeaning ? ` (${f.ratioMeaning})` : ""}`;
      const pass = f.pass === undefined ? "" : f.pass ? "yes" : "no";
      rows.push(`| ${benchmark} | ${f.name} | ${f.value} ${f.unit} | ${baseline} | ${ratio} | ${f.target ?? ""} | ${pass} |`);
    }
  }
  return rows.join("\n");
}
