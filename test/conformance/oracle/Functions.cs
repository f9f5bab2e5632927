using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using Microsoft.Azure.WebJobs;
using Oracle;

// Namespace Host, class Functions: the WebJobs function id is "<namespace>.<class>.<method>", and the
// Functions host generates its functions as Host.Functions.<name>. These ids therefore appear in
// receipts and blob poison messages exactly as the Functions host writes them.
namespace Host;

/// <summary>
/// The conformance scenarios' handlers, run by the real WebJobs SDK. Each records what it was given;
/// the failing ones then throw, as the local host's fixture app (test/conformance/fixtures) does.
/// </summary>
public static class Functions
{
    public static void queueOk(
        [QueueTrigger("conformance-ok")] string message,
        string Id, long DequeueCount, DateTimeOffset InsertionTime, DateTimeOffset ExpirationTime,
        DateTimeOffset NextVisibleTime, string PopReceipt, string QueueTrigger) =>
        InvocationLog.Record("queueOk", message, QueueMetadata(Id, DequeueCount, InsertionTime, ExpirationTime, NextVisibleTime, PopReceipt, QueueTrigger));

    public static void queueBad(
        [QueueTrigger("conformance-bad")] string message,
        string Id, long DequeueCount, DateTimeOffset InsertionTime, DateTimeOffset ExpirationTime,
        DateTimeOffset NextVisibleTime, string PopReceipt, string QueueTrigger) =>
        InvocationLog.Record("queueBad", message, QueueMetadata(Id, DequeueCount, InsertionTime, ExpirationTime, NextVisibleTime, PopReceipt, QueueTrigger));

    public static void queueFail(
        [QueueTrigger("conformance-fail")] string message,
        string Id, long DequeueCount, DateTimeOffset InsertionTime, DateTimeOffset ExpirationTime,
        DateTimeOffset NextVisibleTime, string PopReceipt, string QueueTrigger)
    {
        InvocationLog.Record("queueFail", message, QueueMetadata(Id, DequeueCount, InsertionTime, ExpirationTime, NextVisibleTime, PopReceipt, QueueTrigger));
        throw new InvalidOperationException($"queueFail fails on purpose (attempt {DequeueCount})");
    }

    public static void blobScan(
        [BlobTrigger("scan/{name}")] string content,
        string name, string BlobTrigger, Uri Uri, BlobProperties Properties, IDictionary<string, string> Metadata) =>
        InvocationLog.Record("blobScan", content, BlobMetadata(name, BlobTrigger, Uri, Properties, Metadata));

    /// <summary>Named as the app's audio function, so its blob poison message is the one the app's transcriptionGivenUp reads.</summary>
    public static void transcribeAudio(
        [BlobTrigger("audio/{name}")] string content,
        string name, string BlobTrigger, Uri Uri, BlobProperties Properties, IDictionary<string, string> Metadata)
    {
        InvocationLog.Record("transcribeAudio", content, BlobMetadata(name, BlobTrigger, Uri, Properties, Metadata));
        throw new InvalidOperationException($"transcribeAudio fails on purpose for {name}");
    }

    public static void gridBlob(
        [BlobTrigger("grid/{name}", Source = BlobTriggerSource.EventGrid)] string content,
        string name, string BlobTrigger, Uri Uri, BlobProperties Properties, IDictionary<string, string> Metadata) =>
        InvocationLog.Record("gridBlob", content, BlobMetadata(name, BlobTrigger, Uri, Properties, Metadata));

    private static JsonObject QueueMetadata(string id, long dequeueCount, DateTimeOffset insertionTime, DateTimeOffset expirationTime,
        DateTimeOffset nextVisibleTime, string popReceipt, string queueTrigger) => new()
    {
        ["id"] = id,
        ["dequeueCount"] = dequeueCount,
        ["insertionTime"] = InvocationLog.Iso(insertionTime),
        ["expirationTime"] = InvocationLog.Iso(expirationTime),
        ["nextVisibleTime"] = InvocationLog.Iso(nextVisibleTime),
        ["popReceipt"] = popReceipt,
        ["queueTrigger"] = queueTrigger,
    };

    private static JsonObject BlobMetadata(string name, string blobTrigger, Uri uri, BlobProperties properties, IDictionary<string, string> metadata)
    {
        var userMetadata = new JsonObject();
        foreach (var (key, value) in metadata) userMetadata[key] = value;
        return new JsonObject
        {
            ["name"] = name,
            ["blobTrigger"] = blobTrigger,
            ["uri"] = uri.ToString(),
            ["etag"] = properties.ETag.ToString(),
            ["contentLength"] = properties.ContentLength,
            ["metadata"] = userMetadata,
        };
    }
}
