/**
 * KQL through Microsoft's own parser and semantic analyzer (Kusto.Language, published on npm as
 * @kusto/language-service-next): a query is analyzed against the Application Insights tables as
 * Microsoft documents them (test/infra/data/application-insights-tables.json), so a syntax error,
 * a misspelt column or a wrong type is reported as Azure would, before any deployment.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** The few members of the Bridge.NET build this file uses; the package's own typings are 1.7 MB. */
interface BridgeList<T> {
  Count: number;
  getItem(index: number): T;
}
interface KustoLanguage {
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: new (name: string, members: unknown[]) => unknown;
  };
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  KustoCode: {
    ParseAndAnalyze(
      text: string,
      globals: unknown,
    ): {
      GetDiagnostics(): BridgeList<{ Severity: string; Start: number; Length: number; Message: string }>;
      ResultType: { Columns?: BridgeList<{ Name: string; Type: { Name: string } }> } | null;
    };
  };
}

let kusto: KustoLanguage | undefined;

/** Loads the parser once; it is a script that defines the global `Kusto`. */
function language(): KustoLanguage {
  if (!kusto) {
    const require = createRequire(import.meta.url);
    require("@kusto/language-service-next/bridge.min.js");
    require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
    kusto = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
  }
  return kusto;
}

/** Table name -> column name -> KQL type. */
export type Tables = Record<string, Record<string, string>>;

/** The documented Application Insights tables (classic schema, as queries scoped to the component see them). */
export const APPLICATION_INSIGHTS_TABLES: Tables = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../data/application-insights-tables.json"), "utf8")) as { tables: Tables }
).tables;

export interface KqlAnalysis {
  /** Errors and warnings, each as "line:column message". */
  problems: string[];
  /** The result's columns (name -> type), when the query yields a table. */
  columns: Record<string, string>;
}

/** Parses and analyzes `query` as a query over `tables`. */
export function analyzeKql(query: string, tables: Tables = APPLICATION_INSIGHTS_TABLES): KqlAnalysis {
  const K = language();
  const symbols = Object.entries(tables).map(
    ([name, columns]) =>
      new K.Symbols.TableSymbol.$ctor7(
        name,
        `(${Object.entries(columns)
          .map(([column, type]) => `['${column}']:${type}`)
          .join(", ")})`,
        null,
      ),
  );
  const globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol("applicationinsights", symbols));
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const problems: string[] = [];
  const diagnostics = code.GetDiagnostics();
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity !== "Error" && d.Severity !== "Warning") continue;
    const before = query.slice(0, d.Start).split("\n");
    problems.push(`${before.length}:${before.at(-1)!.length + 1} ${d.Severity}: ${d.Message}`);
  }
  const columns: Record<string, string> = {};
  const resultColumns = code.ResultType?.Columns;
  for (let i = 0; i < (resultColumns?.Count ?? 0); i++) {
    const column = resultColumns!.getItem(i);
    columns[column.Name] = column.Type.Name;
  }
  return { problems, columns };
}
