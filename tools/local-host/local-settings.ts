/**
 * local.settings.json as Core Tools reads it: created from local.settings.sample.json when
 * missing, `Values` as the app's settings with the shell's variables winning, `Host.LocalHttpPort`
 * as the default port. One reader for `npm start`, the send CLI and the tests, so all three see
 * the settings the same way.
 */
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const LOCAL_SETTINGS_FILE = "local.settings.json";
export const LOCAL_SETTINGS_SAMPLE = "local.settings.sample.json";

export interface LocalSettings {
  /** `Values`: app settings, applied as environment variables. */
  values: Record<string, string>;
  /** `Host.LocalHttpPort`, which Core Tools uses as the default port. */
  localHttpPort?: number;
  /** True when the file was just created from the sample. */
  created: boolean;
  file: string;
}

/**
 * Reads local.settings.json as Core Tools does, creating it from local.settings.sample.json
 * when it is missing (it is git-ignored: it may hold secrets); with `createFromSample: false`
 * the sample is only read.
 * @throws Error when neither file exists, the JSON is invalid, the file is encrypted, or a value
 *   is not a string/number/boolean.
 */
export function loadLocalSettings(root: string, options: { createFromSample?: boolean } = {}): LocalSettings {
  const createFromSample = options.createFromSample ?? true;
  let file = path.join(root, LOCAL_SETTINGS_FILE);
  let created = false;
  if (!existsSync(file) && !createFromSample) {
    // Read-only callers (the send CLI) fall back to the sample's values without writing a file.
    file = path.join(root, LOCAL_SETTINGS_SAMPLE);
    if (!existsSync(file)) return { values: {}, created: false, file };
  } else if (!existsSync(file)) {
    const sample = path.join(root, LOCAL_SETTINGS_SAMPLE);
    if (!existsSync(sample)) {
      throw new Error(
        `Neither ${LOCAL_SETTINGS_FILE} nor ${LOCAL_SETTINGS_SAMPLE} exists in ${root}; run npm start from the project root.`,
      );
    }
    copyFileSync(sample, file);
    created = true;
  }
  let parsed: { IsEncrypted?: boolean; Values?: Record<string, unknown>; Host?: Record<string, unknown> };
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as typeof parsed;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}). Fix it, or delete it to recreate it from the sample.`);
  }
  if (parsed.IsEncrypted) {
    throw new Error(
      `${file} is encrypted (IsEncrypted: true); the local host reads plain values only. Run "func settings decrypt" or recreate it from the sample.`,
    );
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value === null || value === undefined) continue;
    if (!["string", "number", "boolean"].includes(typeof value)) {
      throw new Error(`${file}: Values.${name} must be a string, number or boolean.`);
    }
    values[name] = String(value);
  }
  const port = Number(parsed.Host?.LocalHttpPort);
  return { values, created, file, ...(Number.isInteger(port) && port > 0 ? { localHttpPort: port } : {}) };
}

/**
 * The environment the app gets: Values from local.settings.json, except where the shell already
 * sets a variable (Core Tools does not override existing environment variables). Empty values
 * count as unset, so an empty AZURE_OPENAI_ENDPOINT in the sample means "use the simulator".
 */
export function effectiveSettings(
  values: Record<string, string>,
  env: NodeJS.ProcessEnv,
  /** Settings taken from the shell even when local.settings.json does not list them. */
  alsoFromShell: readonly string[] = [],
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of alsoFromShell) {
    const fromShell = env[name];
    if (fromShell !== undefined && fromShell !== "" && !(name in values)) result[name] = fromShell;
  }
  for (const [name, value] of Object.entries(values)) {
    const fromShell = env[name];
    const chosen = fromShell !== undefined && fromShell !== "" ? fromShell : value;
    if (chosen !== "") result[name] = chosen;
  }
  return result;
}

/** The setting names local.settings.sample.json lists (none when it is missing or invalid). */
export function sampleSettingNames(root: string): string[] {
  try {
    const sample = JSON.parse(readFileSync(path.join(root, LOCAL_SETTINGS_SAMPLE), "utf8")) as { Values?: Record<string, unknown> };
    return Object.keys(sample.Values ?? {});
  } catch {
    return [];
  }
}
