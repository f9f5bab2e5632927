using System.Globalization;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Oracle;

// The oracle: hosts the real WebJobs SDK storage triggers (Host.Functions) against Azurite with the
// settings the test passes, prints a ready line with its Event Grid relay, and stops gracefully
// when its standard input closes or says "stop". What the handlers saw goes to the invocations
// file; what the SDK left in storage is read by the test after the oracle has stopped.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: WebJobsOracle '<options JSON>' (see OracleOptions.cs)");
    return 2;
}
var options = OracleOptions.Parse(args[0]);
InvocationLog.Open(options.InvocationsFile);

var builder = new HostBuilder()
    .UseEnvironment("Development")
    // Settings go in as configuration, the way the Functions host hands host.json's "extensions" to
    // the extensions (each binds its own options from its section), not as code.
    .ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["AzureWebJobsStorage"] = options.ConnectionString,
        ["AzureWebJobs:Extensions:Queues:BatchSize"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
        ["AzureWebJobs:Extensions:Queues:MaxDequeueCount"] = options.MaxDequeueCount.ToString(CultureInfo.InvariantCulture),
        ["AzureWebJobs:Extensions:Queues:VisibilityTimeout"] = TimeSpan.FromMilliseconds(options.VisibilityTimeoutMs).ToString("c"),
        ["AzureWebJobs:Extensions:Queues:MaxPollingInterval"] = TimeSpan.FromMilliseconds(options.MaxPollingIntervalMs).ToString("c"),
        ["AzureWebJobs:Extensions:Queues:MessageEncoding"] = options.MessageEncoding,
        ["AzureWebJobs:Extensions:Blobs:PoisonBlobThreshold"] = options.PoisonBlobThreshold.ToString(CultureInfo.InvariantCulture),
        ["AzureWebJobs:Extensions:Blobs:MaxDegreeOfParallelism"] = options.MaxDegreeOfParallelism.ToString(CultureInfo.InvariantCulture),
    }))
    .ConfigureWebJobs(webJobs =>
    {
        webJobs.UseHostId(options.HostId);
        webJobs.AddAzureStorageCoreServices();
        webJobs.AddAzureStorageQueues();
        webJobs.AddAzureStorageBlobs();
    })
    .ConfigureLogging(logging =>
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(console => console.SingleLine = true);
        // The console logger writes to stdout; the test reads only the ORACLE lines there and keeps the rest for failure reports.
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Azure.Core", LogLevel.Warning);
        // Each failure is logged by the function's own category already; Host.Results repeats it.
        logging.AddFilter("Host.Results", LogLevel.None);
    });

using var host = builder.Build();
await host.StartAsync();
await using (var relay = new EventGridRelay(host.Services, options.WebhookPort))
{
    Console.WriteLine($"ORACLE READY {{\"webhook\":\"{relay.Url}\"}}");
    Console.Out.Flush();
    while (Console.In.ReadLine() is { } line && line.Trim() != "stop")
    {
        // Only "stop" or the end of input ends the run.
    }
}
try
{
    await host.StopAsync();
}
catch (InvalidOperationException error)
{
    // Seen now and then: the blob functions share one internal queue listener and each stops it,
    // so the second stop throws ("The timer has already been stopped"). Everything under test has
    // happened by now; the run is still good, and the line says what happened.
    Console.WriteLine($"ORACLE STOP RACE {error.Message}");
}
Console.WriteLine("ORACLE STOPPED");
return 0;
