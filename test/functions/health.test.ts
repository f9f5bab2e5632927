import { BlobServiceClient } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { checkHealth } from "../../src/health.js";
import { createOpenAIClient } from "../../src/openai/client.js";
import type { StorageClients } from "../../src/storage/clients.js";

/** Nothing listens on port 1: connections are refused at once. */
const DEAD = "http://127.0.0.1:1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

describe("checkHealth", () => {
  it("names what is unreachable and what to check, without retry talk or secrets", async () => {
    const blobService = BlobServiceClient.fromConnectionString(
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};BlobEndpoint=${DEAD}/devstoreaccount1;`,
    );
    const apiKey = "0123456789abcdef0123456789abcdef";
    const report = await checkHealth({
      storage: { blobService } as StorageClients,
      // Made as the app makes its client (which also teaches classifyError openai's error classes).
      openai: [
        {
          name: "dead",
          client: await createOpenAIClient(
            loadConfig({
              AZURE_OPENAI_ENDPOINT: DEAD,
              AZURE_OPENAI_API_KEY: apiKey,
              AZURE_OPENAI_MAX_RETRIES: "0",
              AzureWebJobsStorage: "UseDevelopmentStorage=true",
            }).openai,
          ),
        },
      ],
      containerName: "transcripts",
      timeoutInMs: 500,
      knownSecrets: [apiKey],
    });
    expect(report.status).toBe("unavailable");
    // The storage client retries refused connections until our deadline, which alone would read "cancelled".
    expect(report.checks.storage).toEqual({
      ok: false,
      reason: "Storage did not answer within 500 ms; check AzureWebJobsStorage and the account's network access",
    });
    expect(report.checks.openai.ok).toBe(false);
    expect(report.checks.openai.reason).toContain("Could not reach Azure OpenAI");
    expect(report.checks.openai.reason).not.toContain("retried");
    expect(JSON.stringify(report)).not.toContain(apiKey);
    expect(JSON.stringify(report)).not.toContain(AZURITE_KEY);
  });
});
