/**
 * infra/ through the real Bicep compiler: `bicep build` of main.bicep (every module with it) and
 * `bicep lint` of every file give no error and no warning but those infra/README.md lists with a
 * reason. Planted defects the tree-sitter checks cannot see (a property the resource type lacks, a
 * value of the wrong type) must fail here. Skipped, with a message, where no compiler is installed;
 * mandatory in CI (BICEP_REQUIRED=1).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { bicepRequired, findBicep, skipMessage } from "./lib/bicep-cli.js";
import { compileInfra, keptWarnings, staleKeptWarnings, unexpectedDiagnostics } from "./lib/compile-infra.js";
import { mutatedInfra, type Edit } from "./lib/mutated-copy.js";

const infraDir = path.resolve(import.meta.dirname, "../../infra");
const bicep = findBicep();
const kept = keptWarnings(readFileSync(path.join(infraDir, "README.md"), "utf8"));

if (!bicep.path && bicepRequired()) {
  describe("Bicep compiler", () => {
    it("is installed (BICEP_REQUIRED is set)", () => {
      throw new Error(`${skipMessage(bicep)} BICEP_REQUIRED is set, so this fails instead of skipping.`);
    });
  });
} else if (!bicep.path) {
  console.warn(skipMessage(bicep));
}

/** Unexpected diagnostics of a copy of infra/ with `edits` applied. */
async function problemsAfter(edits: Edit[]): Promise<string[]> {
  const mutant = mutatedInfra(edits);
  try {
    return unexpectedDiagnostics(await compileInfra(bicep.path!, mutant.dir), mutant.dir, kept);
  } finally {
    mutant.cleanup();
  }
}

describe.skipIf(!bicep.path)(
  bicep.path ? `Bicep compiler (${bicep.path})` : "Bicep compiler: skipped, no Bicep CLI (az bicep install, or set BICEP_PATH)",
  () => {
    it("builds main.bicep and lints every file with no error and no unlisted warning", async () => {
      const compilation = await compileInfra(bicep.path!, infraDir);
      expect(compilation.buildExitCode).toBe(0);
      expect(compilation.template?.parameters.environmentName).toBeDefined();
      expect(unexpectedDiagnostics(compilation, infraDir, kept)).toEqual([]);
      expect(staleKeptWarnings(compilation, infraDir, kept)).toEqual([]);
    });

    const plants: { name: string; edits: Edit[]; expected: RegExp }[] = [
      {
        name: "a property the storage account type does not have",
        edits: [
          {
            file: "app/storage.bicep",
            find: "    allowSharedKeyAccess: false\n",
            replace: "    allowSharedKeyAccess: false\n    allowSharedKeyAcess: false\n",
          },
        ],
        expected: /app\/storage\.bicep:\d+:\d+ Warning BCP037: The property "allowSharedKeyAcess" is not allowed/,
      },
      {
        name: "a Flex setting in the wrong place of functionAppConfig",
        edits: [
          {
            file: "app/function-app.bicep",
            find: "        instanceMemoryMB: instanceMemoryMB\n",
            replace: "        instanceMemoryMB: instanceMemoryMB\n        alwaysReadyInstances: 1\n",
          },
        ],
        expected: /app\/function-app\.bicep:\d+:\d+ Warning BCP037: The property "alwaysReadyInstances" is not allowed/,
      },
      {
        name: "a value of the wrong type",
        edits: [{ file: "app/storage.bicep", find: "allowBlobPublicAccess: false", replace: "allowBlobPublicAccess: 'false'" }],
        expected: /app\/storage\.bicep:\d+:\d+ (Error|Warning) BCP036/,
      },
      {
        name: "a module parameter that does not exist",
        edits: [
          {
            file: "main.bicep",
            find: "    storageQueueEndpoint: storage.outputs.queueEndpoint\n",
            replace: "    storageQueueEndpoint: storage.outputs.queueEndpoint\n    storageQueueEndpont: storage.outputs.queueEndpoint\n",
          },
        ],
        expected: /main\.bicep:\d+:\d+ Error BCP037/,
      },
      {
        name: "an unused parameter (linter)",
        edits: [
          {
            file: "app/identity.bicep",
            find: "param tags object\n",
            replace: "param tags object\n\n@description('Never read.')\nparam unused string = ''\n",
          },
        ],
        expected: /app\/identity\.bicep:\d+:\d+ Warning no-unused-params/,
      },
    ];
    // One copy carries every plant (each in its own place), so the compiler runs once; each plant
    // must still show up as its own diagnostic.
    let planted: Promise<string[]>;
    beforeAll(() => {
      planted = problemsAfter(plants.flatMap((plant) => plant.edits));
      planted.catch(() => undefined);
    });
    for (const { name, expected } of plants) {
      it(`fails on ${name}`, async () => {
        expect((await planted).join("\n")).toMatch(expected);
      });
    }
  },
);
