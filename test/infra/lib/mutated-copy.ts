/**
 * Copies infra/ and azure.yaml to a temporary directory and applies text edits, so a test can
 * prove a check fails when the templates regress.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface Edit {
  /** File relative to infra/ ("../azure.yaml" for the azd file). */
  file: string;
  find: string | RegExp;
  replace: string;
}

const repoRoot = path.resolve(import.meta.dirname, "../../..");

/**
 * A mutated copy of infra/; returns its infra directory and a cleanup function.
 * @throws Error when an edit's `find` does not occur, so a mutation can never silently do nothing.
 */
export function mutatedInfra(edits: readonly Edit[]): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), "infra-mutant-"));
  cpSync(path.join(repoRoot, "infra"), path.join(root, "infra"), { recursive: true });
  cpSync(path.join(repoRoot, "azure.yaml"), path.join(root, "azure.yaml"));
  const dir = path.join(root, "infra");
  for (const edit of edits) {
    const file = path.join(dir, edit.file);
    const before = readFileSync(file, "utf8");
    const after = before.replace(edit.find, edit.replace);
    if (after === before) throw new Error(`mutation found nothing to change: ${String(edit.find)} in ${edit.file}`);
    writeFileSync(file, after);
  }
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
