/**
 * Roles: which ones the templates may assign is this project's choice (least privilege); what each
 * role's id is comes from Microsoft's built-in roles reference, copied with its source and date into
 * test/infra/data/azure-built-in-roles.json. A GUID that is not a built-in role, or a built-in role
 * outside ALLOWED_ROLES (Owner, Contributor, ...), fails the tests.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

interface RoleData {
  roles: { name: string; id: string }[];
}

const data = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../data/azure-built-in-roles.json"), "utf8")) as RoleData;

/** Every built-in role in the data: id -> name. */
export const BUILT_IN_ROLES: Readonly<Record<string, string>> = Object.fromEntries(data.roles.map((role) => [role.id, role.name]));

/** The roles the templates may assign, by name. */
export const ALLOWED_ROLES: readonly string[] = [
  "Cognitive Services OpenAI User",
  "Storage Blob Data Owner",
  "Storage Blob Data Contributor",
  "Storage Queue Data Contributor",
  "Storage Table Data Contributor",
  "Monitoring Metrics Publisher",
];

/** The allowed roles: id -> name. @throws Error at load when an allowed name is not in the data. */
export const ROLE_TABLE: Readonly<Record<string, string>> = Object.fromEntries(
  ALLOWED_ROLES.map((name) => {
    const role = data.roles.find((r) => r.name === name);
    if (!role) throw new Error(`role '${name}' is not in test/infra/data/azure-built-in-roles.json`);
    return [role.id, name];
  }),
);

/** Which role is expected on which resource type; every entry must be assigned somewhere. */
export const EXPECTED_ROLE_SCOPES: readonly { role: string; scopeType: string }[] = [
  { role: "Cognitive Services OpenAI User", scopeType: "Microsoft.CognitiveServices/accounts" },
  { role: "Storage Blob Data Owner", scopeType: "Microsoft.Storage/storageAccounts" },
  { role: "Storage Queue Data Contributor", scopeType: "Microsoft.Storage/storageAccounts" },
  // The host writes its diagnostic events to tables (AzureWebJobsStorage__tableServiceUri).
  { role: "Storage Table Data Contributor", scopeType: "Microsoft.Storage/storageAccounts" },
  { role: "Monitoring Metrics Publisher", scopeType: "Microsoft.Insights/components" },
  // Event Grid's identity writes dead letters, and only into the dead-letter container.
  { role: "Storage Blob Data Contributor", scopeType: "Microsoft.Storage/storageAccounts/blobServices/containers" },
];
