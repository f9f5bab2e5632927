/**
 * The static Bicep evaluator the consistency checks rely on: if it misread Bicep, the checks
 * would pass or fail for the wrong reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { evaluate, fileScope, loadBicepFile, moduleArguments, propertyNode, Unknown, type BicepFile } from "./lib/bicep-model.js";
import { azdParameterValues } from "./lib/infra-model.js";

const dir = mkdtempSync(path.join(tmpdir(), "bicep-model-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function model(source: string, name = "t.bicep"): Promise<BicepFile> {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return loadBicepFile(file);
}

function valueOf(bicep: BicepFile, variable: string, overrides: Record<string, never> | Record<string, unknown> = {}): unknown {
  const scope = fileScope(bicep, overrides as never);
  return evaluate(bicep.vars.get(variable)!.value, scope);
}

describe("Bicep evaluator", () => {
  it("evaluates literals, interpolation, escapes, parameters and variables", async () => {
    const bicep = await model(
      "param name string = 'app'\nparam count int = 3\nvar prefix = 'func-'\nvar full = '${prefix}${name}-${count}'\nvar quoted = 'it\\'s'\nvar flags = [\n  true\n  null\n]\n",
    );
    expect(valueOf(bicep, "full")).toBe("func-app-3");
    expect(valueOf(bicep, "quoted")).toBe("it's");
    expect(valueOf(bicep, "flags")).toEqual([true, null]);
    expect(valueOf(bicep, "full", { name: "other" })).toBe("func-other-3");
  });

  it("evaluates conditions, functions and objects, and keeps deploy-time values as Unknown with their source", async () => {
    const bicep = await model(
      [
        "param existing string = ''",
        "resource acct 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {",
        "  name: 'a'",
        "}",
        "var useExisting = !empty(existing)",
        "var name = useExisting ? existing : toLower('NEW')",
        "var merged = union({",
        "  a: 1",
        "}, {",
        "  b: 'x'",
        "})",
        "var endpoint = acct.properties.endpoint",
        "var auth = 'ClientId=${acct.id};Authorization=AAD'",
        "var both = useExisting && acct.id == 'x'",
        "var either = !useExisting || acct.id == 'x'",
        "var arithmetic = 1 + 2 * 3 - 4 / 2",
        "var comparison = 2 + 3 == 5 && 'a' != 'b'",
        "",
      ].join("\n"),
    );
    expect(valueOf(bicep, "name")).toBe("new");
    expect(valueOf(bicep, "name", { existing: "mine" })).toBe("mine");
    expect(valueOf(bicep, "merged")).toEqual({ a: 1, b: "x" });
    expect(valueOf(bicep, "endpoint")).toEqual(new Unknown("acct.properties.endpoint"));
    expect(valueOf(bicep, "auth")).toEqual(new Unknown("ClientId=«acct.id»;Authorization=AAD"));
    // false && unknown is false, whatever the unknown is (and the grammar's `(a && b).c` is read as `a && (b.c)`).
    expect(valueOf(bicep, "both")).toBe(false);
    expect(valueOf(bicep, "either")).toBe(true);
    expect(valueOf(bicep, "arithmetic")).toBe(5);
    expect(valueOf(bicep, "comparison")).toBe(true);
    expect(valueOf(bicep, "both", { existing: "mine" })).toEqual(new Unknown("useExisting && acct.id == 'x'"));
  });

  it("models nested and looped resources with their full type, decorators and comment", async () => {
    const bicep = await model(
      [
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
        "  name: 's'",
        "  resource blobs 'blobServices' = {",
        "    name: 'default'",
        "    resource containers 'containers' = [for c in names: {",
        "      name: c",
        "    }]",
        "  }",
        "}",
        "// Why one at a time.",
        "@batchSize(1)",
        "resource d 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [for x in xs: {",
        "  name: x.name",
        "}]",
        "",
      ].join("\n"),
    );
    expect(bicep.resources.map((r) => r.type)).toEqual([
      "Microsoft.Storage/storageAccounts",
      "Microsoft.Storage/storageAccounts/blobServices",
      "Microsoft.Storage/storageAccounts/blobServices/containers",
      "Microsoft.CognitiveServices/accounts/deployments",
    ]);
    const deployments = bicep.resources[3]!;
    expect(deployments.decorators.has("batchSize")).toBe(true);
    expect(deployments.comment).toBe("Why one at a time.");
    expect(deployments.loop?.variable).toBe("x");
    expect(bicep.resources[2]!.loop?.iterable.text).toBe("names");
  });

  it("passes module parameters from the caller's scope", async () => {
    await model("param size int\nparam label string = 'x'\n", "child.bicep");
    const parent = await model(
      "param n int = 7\nmodule c 'child.bicep' = {\n  name: 'c'\n  params: {\n    size: n * 2\n  }\n}\n",
      "parent.bicep",
    );
    const call = parent.modules[0]!;
    expect(call.file).toBe(path.join(dir, "child.bicep"));
    expect(moduleArguments(call, fileScope(parent))).toEqual({ size: 14 });
    expect(propertyNode(call.body, "PARAMS.size")?.text).toBe("n * 2");
  });

  it("evaluates lambdas (map, filter, toObject), safe access, array functions and user-defined functions, local and imported", async () => {
    await model(
      [
        "@export()",
        "func firstNamed(items array, tag string) string => first(concat(map(filter(items, d => contains(d.tags, tag)), d => d.name), ['']))",
        "@export()",
        "func trimSlash(s string) string => endsWith(s, '/') ? take(s, length(s) - 1) : s",
        "",
      ].join("\n"),
      "lib.bicep",
    );
    const bicep = await model(
      [
        "import { firstNamed, trimSlash as trimmed } from 'lib.bicep'",
        "param items array = [",
        "  {",
        "    name: 'a'",
        "    tags: [",
        "      'x'",
        "    ]",
        "  }",
        "  {",
        "    name: 'b'",
        "    alias: 'a'",
        "    tags: [",
        "      'x'",
        "      'y'",
        "    ]",
        "  }",
        "]",
        "resource acct 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {",
        "  name: 'a'",
        "}",
        "func aliasOf(d object) string => d.?alias ?? d.name",
        "var aliases = union(map(items, d => aliasOf(d)), [])",
        "var table = toObject(aliases, a => a, a => map(filter(items, (d, i) => aliasOf(d) == a), d => {",
        "  deployment: d.name",
        "  endpoint: trimmed(acct.properties.endpoint)",
        "}))",
        "var json = string(table)",
        "var firstY = firstNamed(items, 'y')",
        "var firstZ = firstNamed(items, 'z')",
        "var flat = flatten([",
        "  [",
        "    1",
        "  ]",
        "  [",
        "    2",
        "  ]",
        "])",
        "var trimmedKnown = trimmed('https://x/')",
        "",
      ].join("\n"),
      "main.bicep",
    );
    expect(valueOf(bicep, "aliases")).toEqual(["a"]);
    expect(valueOf(bicep, "firstY")).toBe("b");
    expect(valueOf(bicep, "firstZ")).toBe("");
    expect(valueOf(bicep, "flat")).toEqual([1, 2]);
    expect(valueOf(bicep, "trimmedKnown")).toBe("https://x");
    const endpoint = new Unknown("trimmed(acct.properties.endpoint)");
    expect(valueOf(bicep, "table")).toEqual({
      a: [
        { deployment: "a", endpoint },
        { deployment: "b", endpoint },
      ],
    });
    expect(valueOf(bicep, "json")).toEqual(
      new Unknown(
        '{"a":[{"deployment":"a","endpoint":"«trimmed(acct.properties.endpoint)»"},{"deployment":"b","endpoint":"«trimmed(acct.properties.endpoint)»"}]}',
      ),
    );
  });

  it("refuses to model a file with a syntax error, naming where it is", async () => {
    await expect(model("param a string = 'x'\nvar b = {\n", "bad.bicep")).rejects.toThrow(/bad\.bicep:\d+:\d+/);
  });
});

describe("azd parameter values", () => {
  it("uses ${VAR=default} defaults converted to the parameter's type, and empty or Unknown for ${VAR}", async () => {
    const bicep = await model(
      "param env string\nparam enabled bool = false\nparam count int = 1\nparam id string = ''\nparam sku string = 'S0'\n",
    );
    const values = azdParameterValues(bicep, {
      parameters: {
        env: { value: "${AZURE_ENV_NAME}" },
        enabled: { value: "${FLAG=true}" },
        count: { value: "${COUNT=40}" },
        id: { value: "${AZURE_PRINCIPAL_ID}" },
        sku: { value: "S1" },
      },
    });
    expect(values).toEqual({ env: new Unknown("$AZURE_ENV_NAME"), enabled: true, count: 40, id: "", sku: "S1" });
  });
});
