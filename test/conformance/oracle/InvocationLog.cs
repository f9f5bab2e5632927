using System.Text.Json;
using System.Text.Json.Nodes;

namespace Oracle;

/// <summary>
/// Appends one JSON line per invocation to the file the test names, in the shape the local host's
/// fixture app writes (function, time, input, the trigger metadata the handler saw), so the two
/// runs are recorded the same way and compared by one reader.
/// </summary>
public static class InvocationLog
{
    private static readonly object Gate = new();
    private static string? _path;

    public static void Open(string path) => _path = path;

    public static void Record(string function, string input, JsonObject metadata)
    {
        var line = new JsonObject
        {
            ["function"] = function,
            ["at"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["input"] = input,
            ["metadata"] = metadata,
        };
        lock (Gate)
        {
            File.AppendAllText(_path ?? throw new InvalidOperationException("InvocationLog.Open was not called."),
                line.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");
        }
    }

    public static string Iso(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ") ?? "";
}
