/**
 * The api-versions that Azure OpenAI's data plane (inference) serves on its dated routes
 * (`/openai/deployments/{deployment}/...?api-version=`), GA and preview: the one list that both the
 * app's check of AZURE_OPENAI_API_VERSION (src/config.ts) and the local simulator's routes
 * (tools/simulator/data-plane-routes.ts) use, so a version the simulator accepts is one the app
 * accepts, and both refuse what Azure does not serve.
 *
 * Sources, read 2026-12-07:
 * - Azure/azure-rest-api-specs, the folder names under
 *   specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/ and .../preview/: each
 *   holds the REST specification Microsoft published for that version (inference.json or
 *   inference.yaml). preview/2023-11-01-preview is left out: it holds only a TypeSpec-generated generated.json, no published inference spec, and
 *   neither the folder's readme.md nor the lifecycle page names it.
 * - Microsoft Learn, "Azure OpenAI in Azure AI Foundry Models API lifecycle"
 *   (MicrosoftDocs/azure-ai-docs, articles/ai-foundry/openai/api-version-lifecycle.md, ms.date
 *   2025-08-26, commit 00f98cc3f38c78e172e2e3b6be5711333ad37d10): 2024-10-21 is the latest GA
 *   (replacing 2024-06-01); the previews 2024-04-01-preview through 2025-04-01-preview are listed,
 *   2025-04-01-preview the last dated one; after it new features come to the v1 API
 *   (`/openai/v1/`), which takes no dated api-version.
 *
 * Retired previews are kept. The lifecycle page announced that older previews (2023-03-15-preview,
 * 2023-07-01-preview, 2023-08-01-preview, 2023-09-01-preview, 2023-12-01-preview) would stop
 * accepting requests on 2024-07-01, yet Azure still answered 2023-12-01-preview in September 2024
 * (microsoft/azurechat#426), so a published version stays here: this list is for refusing versions
 * that never existed (a future date, an impossible date, a model version pasted as api-version).
 */

/** GA (stable) versions, oldest first. */
export const GA_API_VERSIONS = ["2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21"] as const;

/** Preview versions, oldest first. */
export const PREVIEW_API_VERSIONS = [
  "2022-03-01-preview",
  "2022-06-01-preview",
  "2023-03-15-preview",
  "2023-06-01-preview",
  "2023-07-01-preview",
  "2023-08-01-preview",
  "2023-09-01-preview",
  "2023-10-01-preview",
  "2023-12-01-preview",
  "2024-02-15-preview",
  "2024-03-01-preview",
  "2024-04-01-preview",
  "2024-05-01-preview",
  "2024-07-01-preview",
  "2024-08-01-preview",
  "2024-09-01-preview",
  "2024-10-01-preview",
  "2024-12-01-preview",
  "2025-01-01-preview",
  "2025-02-01-preview",
  "2025-03-01-preview",
  "2025-04-01-preview",
] as const;

export type AzureOpenAIApiVersion = (typeof GA_API_VERSIONS)[number] | (typeof PREVIEW_API_VERSIONS)[number];

/** Every served version, in date order (a GA before a preview of the same date). */
export const API_VERSIONS: readonly AzureOpenAIApiVersion[] = [...GA_API_VERSIONS, ...PREVIEW_API_VERSIONS].sort(
  (a, b) => dayNumber(a)! - dayNumber(b)! || a.length - b.length,
);

const SERVED = new Set<string>(API_VERSIONS);

/** Whether Azure OpenAI's data plane serves this api-version (exactly as written: Azure's are lowercase). */
export function isServedApiVersion(value: string): value is AzureOpenAIApiVersion {
  return SERVED.has(value);
}

/**
 * For a message that suggests a fix: the GA version and the previews closest in date to `value`
 * (one GA, then `count - 1` previews), in date order. A value with no date in it (e.g. "latest")
 * gets the latest GA and the latest previews.
 */
export function nearestApiVersions(value: string, count = 3): AzureOpenAIApiVersion[] {
  const day = dayNumber(value) ?? Number.POSITIVE_INFINITY;
  const closest = <T extends AzureOpenAIApiVersion>(versions: readonly T[], n: number): T[] =>
    [...versions]
      .sort((a, b) => Math.abs(dayNumber(a)! - day) - Math.abs(dayNumber(b)! - day) || dayNumber(b)! - dayNumber(a)!)
      .slice(0, n);
  const picked: AzureOpenAIApiVersion[] = [...closest(GA_API_VERSIONS, 1), ...closest(PREVIEW_API_VERSIONS, count - 1)];
  return picked.sort((a, b) => API_VERSIONS.indexOf(a) - API_VERSIONS.indexOf(b));
}

/** YYYY-MM-DD at the start of a value as a day count (month and day not checked: 2024-13-45 still has a nearest), or undefined. */
function dayNumber(value: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * 372 + Number(match[2]) * 31 + Number(match[3]);
}
