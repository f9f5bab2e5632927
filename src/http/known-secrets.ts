import { getProcessConfig, openAISecrets } from "../config.js";

/**
 * The exact secret values in this app's settings (the Azure OpenAI API keys, when key auth is used),
 * masked in every log line and error message the HTTP handlers produce. Empty when the settings
 * are invalid (that error names settings, never their values). Never throws.
 */
export function knownSecrets(): string[] {
  try {
    return openAISecrets(getProcessConfig().openai);
  } catch {
    return [];
  }
}
