/**
 * The Azure built-in roles the templates may assign: id -> name. Checked by hand against the
 * Azure built-in roles reference (learn.microsoft.com/azure/role-based-access-control/built-in-roles)
 * and the issue. A GUID outside this table fails the tests: broad roles (Owner, Contributor) and
 * typos in an id cannot slip in.
 */
export const ROLE_TABLE: Readonly<Record<string, string>> = {
  "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
  "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
};

/** Which role is expected on which resource type; every entry must be assigned somewhere. */
export const EXPECTED_ROLE_SCOPES: readonly { role: string; scopeType: string }[] = [
  { role: "Cognitive Services OpenAI User", scopeType: "Microsoft.CognitiveServices/accounts" },
  { role: "Storage Blob Data Owner", scopeType: "Microsoft.Storage/storageAccounts" },
  { role: "Storage Queue Data Contributor", scopeType: "Microsoft.Storage/storageAccounts" },
  { role: "Monitoring Metrics Publisher", scopeType: "Microsoft.Insights/components" },
  // Event Grid's identity writes dead letters, and only into the dead-letter container.
  { role: "Storage Blob Data Contributor", scopeType: "Microsoft.Storage/storageAccounts/blobServices/containers" },
];
