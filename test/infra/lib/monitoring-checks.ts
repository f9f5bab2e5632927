/**
 * Checks of the operators' workbook and alerts (infra/app/monitoring/): every query parses and
 * type-checks with Microsoft's KQL analyzer against the documented Application Insights tables,
 * names only metrics, dimensions and values of the metrics contract, and (for alerts) yields the
 * columns its rule measures and splits by; the workbook fits Microsoft's workbook schema; the
 * resource types use API versions ARM publishes. Each check returns problems (empty when right).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { analyzeKql } from "./kql.js";
import { DIMENSION_VALUES, METRICS } from "./metrics-contract.js";

const dataDir = path.resolve(import.meta.dirname, "../data");
const readData = <T>(file: string): T => JSON.parse(readFileSync(path.join(dataDir, file), "utf8")) as T;

export const WORKBOOK_SCHEMA = readData<{ schema: object }>("workbook-schema.json").schema;
const VOCABULARY = readData<{ topLevel: string[]; visualizations: string[]; itemPaths: Record<string, string[]> }>(
  "workbook-vocabulary.json",
);
export const MONITOR_API_VERSIONS = readData<{ resourceTypes: Record<string, string[]> }>("azure-monitor-api-versions.json").resourceTypes;

interface WorkbookParameter {
  name: string;
  type: number;
  multiSelect?: boolean;
  quote?: string;
  query?: string;
}
interface WorkbookItem {
  type: number;
  name?: string;
  content: {
    version?: string;
    query?: string;
    queryType?: number;
    resourceType?: string;
    timeContextFromParameter?: string;
    parameters?: WorkbookParameter[];
    items?: WorkbookItem[];
  };
}
export interface Workbook {
  version: string;
  items: WorkbookItem[];
  fallbackResourceIds?: string[];
}

export interface NamedQuery {
  /** Where the query is, for messages: a workbook item or parameter, or an alert rule. */
  where: string;
  query: string;
}

function allItems(items: readonly WorkbookItem[]): WorkbookItem[] {
  return items.flatMap((item) => [item, ...allItems(item.content.items ?? [])]);
}

function parametersOf(workbook: Workbook): WorkbookParameter[] {
  return allItems(workbook.items).flatMap((item) => (item.type === 9 ? (item.content.parameters ?? []) : []));
}

/** Every KQL query of the workbook: its query items and its query-based parameters. */
export function workbookQueries(workbook: Workbook): NamedQuery[] {
  const queries: NamedQuery[] = [];
  for (const item of allItems(workbook.items))
    if (item.type === 3 && item.content.query !== undefined)
      queries.push({ where: `workbook item ${item.name}`, query: item.content.query });
  for (const parameter of parametersOf(workbook))
    if (parameter.query !== undefined) queries.push({ where: `workbook parameter ${parameter.name}`, query: parameter.query });
  return queries;
}

/**
 * The query as the workbook runs it: each {Parameter} replaced with a value of its kind (a time
 * range filter, its grain, or a quoted multi-select list). A parameter the workbook does not
 * declare, or of a kind this does not know, is a problem.
 */
export function expandParameters(workbook: Workbook, query: string): { text: string; problems: string[] } {
  const parameters = new Map(parametersOf(workbook).map((p) => [p.name, p]));
  const problems: string[] = [];
  const text = query.replace(/\{(\w+)(?::(\w+))?\}/g, (whole, name: string, format: string | undefined) => {
    const parameter = parameters.get(name);
    if (!parameter) {
      problems.push(`${whole} names no parameter of the workbook (it has ${[...parameters.keys()].join(", ")})`);
      return "0";
    }
    if (parameter.type === 4 && format === undefined) return "> ago(1d)";
    if (parameter.type === 4 && format === "grain") return "1h";
    if (parameter.type === 2 && parameter.multiSelect && format === undefined) return `${parameter.quote ?? ""}*${parameter.quote ?? ""}`;
    problems.push(`${whole}: a parameter of type ${parameter.type} with format ${format ?? "(none)"} is not one this check knows`);
    return "0";
  });
  return { text, problems };
}

/** The query without // comments (none of ours has // inside a string). */
function withoutComments(query: string): string {
  return query.replace(/\/\/[^\n]*/g, "");
}

/** The metric names a query filters customMetrics on (name == "x", name in ("x", "y")). */
export function metricNamesIn(query: string): string[] {
  const text = withoutComments(query);
  const names = [...text.matchAll(/\bname\s*==\s*"([^"]*)"/g)].map((m) => m[1]!);
  for (const list of text.matchAll(/\bname\s+in\s*\(([^)]*)\)/g)) names.push(...[...list[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!));
  return [...new Set(names)];
}

/**
 * Problems of a query against the metrics contract: a metric name it does not define, a
 * customDimensions key none of the query's metrics carries, a string that is neither a metric
 * name nor a value the contract enumerates.
 */
export function contractProblems({ where, query }: NamedQuery): string[] {
  const text = withoutComments(query);
  if (!/\bcustomMetrics\b/.test(text)) return [];
  const problems: string[] = [];
  const names = metricNamesIn(text);
  if (names.length === 0) problems.push(`${where}: reads customMetrics without naming a metric (name == "...")`);
  const known = names.filter((name) => {
    if (METRICS[name]) return true;
    problems.push(`${where}: metric '${name}' is not in the metrics contract (test/infra/lib/metrics-contract.ts)`);
    return false;
  });
  for (const m of text.matchAll(/customDimensions(?:\.(\w+)|\[\s*"(\w+)"\s*\])/g)) {
    const dimension = m[1] ?? m[2]!;
    if (known.length > 0 && !known.some((name) => METRICS[name]!.dimensions.includes(dimension)))
      problems.push(`${where}: dimension '${dimension}' is carried by none of ${known.join(", ")}`);
  }
  const values = new Set(Object.values(DIMENSION_VALUES).flat());
  for (const m of text.matchAll(/"([^"]*)"/g)) {
    const literal = m[1]!;
    // Separators such as " / " say nothing about the data.
    if (!/[A-Za-z0-9]/.test(literal)) continue;
    if (!METRICS[literal] && !values.has(literal))
      problems.push(`${where}: "${literal}" is neither a metric name nor a dimension value of the metrics contract`);
  }
  return problems;
}

/** Problems Microsoft's KQL analyzer reports for the query (after the workbook's parameters are expanded). */
export function kqlProblems({ where, query }: NamedQuery): string[] {
  return analyzeKql(query).problems.map((p) => `${where}: ${p}`);
}

/** The workbook against Microsoft's workbook schema, and the settings every query item needs. */
export function workbookProblems(workbook: Workbook): string[] {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(WORKBOOK_SCHEMA);
  const problems = validate(workbook) ? [] : (validate.errors ?? []).map((e) => `schema: ${e.instancePath || "/"} ${e.message ?? ""}`);
  if (workbook.version !== "Notebook/1.0") problems.push(`version must be Notebook/1.0 (is ${workbook.version})`);
  const parameters = new Map(parametersOf(workbook).map((p) => [p.name, p]));
  for (const item of allItems(workbook.items)) {
    if (item.type !== 3) continue;
    const at = `workbook item ${item.name}`;
    const c = item.content;
    if (c.version !== "KqlItem/1.0") problems.push(`${at}: content.version must be KqlItem/1.0`);
    // 0 is a Logs (KQL) query; the resource type makes it run against the component.
    if (c.queryType !== 0) problems.push(`${at}: queryType must be 0 (logs)`);
    if (c.resourceType !== "microsoft.insights/components") problems.push(`${at}: resourceType must be microsoft.insights/components`);
    const range = c.timeContextFromParameter;
    if (!range || parameters.get(range)?.type !== 4)
      problems.push(`${at}: timeContextFromParameter must name the workbook's time range parameter`);
  }
  return problems;
}

export interface AlertRule {
  name: string;
  query: string;
  metricMeasureColumn: string;
  dimensions: string[];
}

/** A rule's measure column must be a number and each split dimension a string column of its query's result. */
export function alertRuleProblems(rule: AlertRule): string[] {
  const { problems, columns } = analyzeKql(rule.query);
  const out = problems.map((p) => `${rule.name}: ${p}`);
  const measure = columns[rule.metricMeasureColumn];
  if (!measure || !["real", "long", "int", "decimal"].includes(measure))
    out.push(
      `${rule.name}: measures '${rule.metricMeasureColumn}', which its query does not yield as a number (it yields ${JSON.stringify(columns)})`,
    );
  for (const dimension of rule.dimensions)
    if (columns[dimension] !== "string") out.push(`${rule.name}: splits by '${dimension}', which its query does not yield as a string`);
  return out;
}

/**
 * Each `resource ... 'Microsoft.Insights/...@version'` in `source` uses a version ARM publishes for
 * the type, and not a preview. Other namespaces (the workspace, role assignments) are not in the data.
 */
export function apiVersionProblems(file: string, source: string, versions: Record<string, string[]> = MONITOR_API_VERSIONS): string[] {
  const problems: string[] = [];
  for (const m of source.matchAll(/^resource \w+ '([^'@]+)@([^']+)'/gm)) {
    const [, type, version] = m as unknown as [string, string, string];
    if (!type.toLowerCase().startsWith("microsoft.insights/")) continue;
    const published = Object.entries(versions).find(([t]) => t.toLowerCase() === type.toLowerCase())?.[1];
    if (!published) problems.push(`${file}: ${type} is not in test/infra/data/azure-monitor-api-versions.json`);
    else if (!published.includes(version))
      problems.push(`${file}: ${type}@${version} is not a published API version (${published.join(", ")})`);
    else if (version.includes("preview")) problems.push(`${file}: ${type}@${version} is a preview API version`);
  }
  return problems;
}

/** Property paths of `value` (arrays as []), not descending into nested `items` (walked as items of their own). */
function propertyPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => propertyPaths(v, `${prefix}[]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const at = prefix ? `${prefix}.${key}` : key;
    return key === "items" && Array.isArray(v) ? [at] : [at, ...propertyPaths(v, at)];
  });
}

/**
 * Every property the workbook sets is one Microsoft's own templates set on an item of the same
 * type (test/infra/data/workbook-vocabulary.json), and every visualization one they use: the
 * schema allows any property, so a misspelt one would otherwise be silently ignored by the portal.
 */
export function vocabularyProblems(workbook: Workbook): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(workbook))
    if (!VOCABULARY.topLevel.includes(key)) problems.push(`top-level property '${key}' is in none of Microsoft's templates`);
  for (const item of allItems(workbook.items)) {
    const known = VOCABULARY.itemPaths[String(item.type)];
    if (!known) {
      problems.push(`item ${item.name}: type ${item.type} is in none of Microsoft's templates`);
      continue;
    }
    for (const at of propertyPaths(item))
      if (!known.includes(at)) problems.push(`item ${item.name}: '${at}' is set on no type ${item.type} item of Microsoft's templates`);
    const visualization = (item.content as { visualization?: string }).visualization;
    if (visualization !== undefined && !VOCABULARY.visualizations.includes(visualization))
      problems.push(`item ${item.name}: visualization '${visualization}' is used by none of Microsoft's templates`);
  }
  return problems;
}
