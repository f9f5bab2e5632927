using System.Text.Json;

namespace Oracle;

/// <summary>
/// What one oracle run is told by the conformance test (a JSON argument): the Azurite account, the
/// host id, and the host.json values the local host gets too, so both run the same settings.
/// </summary>
public sealed record OracleOptions(
    string ConnectionString,
    string HostId,
    string MessageEncoding,
    int MaxDequeueCount,
    int VisibilityTimeoutMs,
    int MaxPollingIntervalMs,
    int PoisonBlobThreshold,
    int BatchSize,
    int MaxDegreeOfParallelism,
    string InvocationsFile,
    int WebhookPort)
{
    public static OracleOptions Parse(string json) =>
        JsonSerializer.Deserialize<OracleOptions>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
        ?? throw new ArgumentException("The oracle's options must be a JSON object.");
}
