/**
 * AZURE_OPENAI_DEPLOYMENTS for tests that spread work over several simulated resources: each model
 * gets one backend per resource it is on (named `{resource}/{deployment}`), and the models the app
 * always needs (chat, transcription, embeddings) are added on the first resource when a test leaves them out.
 */
import type { Capability } from "../../src/routing/index.js";

export interface TableResource {
  /** The backend names' prefix: the resource's name. */
  name: string;
  url: string;
  /** The app setting holding the resource's key; without it the app uses Entra ID (the stack's one identity). */
  apiKeySetting?: string;
}

export interface TableModel {
  deployment: string;
  capabilities: Capability[];
  /** Indexes of the resources serving it (default: all). */
  on?: number[];
  priority?: number;
}

const NEEDED: Record<string, TableModel> = {
  "gpt-4o-mini": { deployment: "gpt-4o-mini", capabilities: ["chat", "responses"] },
  whisper: { deployment: "whisper", capabilities: ["transcription"] },
  "text-embedding-3-small": { deployment: "text-embedding-3-small", capabilities: ["embeddings"] },
};

/** The setting's JSON. */
export function tableAcross(resources: readonly TableResource[], models: Record<string, TableModel>): string {
  const all = { ...models };
  for (const [model, entry] of Object.entries(NEEDED)) {
    const served = Object.values(models).some((m) => m.capabilities.some((c) => entry.capabilities.includes(c)));
    if (!served) all[model] = { ...entry, on: [0] };
  }
  const table: Record<string, object[]> = {};
  for (const [model, entry] of Object.entries(all)) {
    table[model] = (entry.on ?? resources.map((_, i) => i)).map((index) => {
      const resource = resources[index]!;
      return {
        name: `${resource.name}/${entry.deployment}`,
        endpoint: resource.url,
        deployment: entry.deployment,
        capabilities: entry.capabilities,
        ...(resource.apiKeySetting ? { apiKeySetting: resource.apiKeySetting } : {}),
        ...(entry.priority !== undefined ? { priority: entry.priority } : {}),
      };
    });
  }
  return JSON.stringify(table);
}
