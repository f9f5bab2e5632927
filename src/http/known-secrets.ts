import { getProcessConfig } from "../config.js";

/**
 * The exact secret values in this app's settings (the Azure OpenAI API key, when key auth is used),
 * masked in every log line and error message the HTTP handlers produce. Empty when the settings
 * are invalid (that error names settings, never their values). Never throws.
 */
export function knownSecrets(): string[] {
  try {
    const apiKey = getProcessConfig().openai.apiKey;
    return apiKey ? [apiKey] : [];
  } catch {
    return [];
  }
}
