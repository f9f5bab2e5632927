using System.Net;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host.Config;
using Microsoft.Extensions.DependencyInjection;

namespace Oracle;

/// <summary>
/// The Functions host serves /runtime/webhooks/blobs by handing the request to the blobs
/// extension's own webhook handler (its IAsyncConverter&lt;HttpRequestMessage, HttpResponseMessage&gt;).
/// A console WebJobs host has no such endpoint, so this small loopback listener does the same
/// hand-over: the Event Grid events the test posts reach the real extension code unchanged.
/// </summary>
public sealed class EventGridRelay : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly IAsyncConverter<HttpRequestMessage, HttpResponseMessage> _blobsWebhook;
    private readonly Task _loop;

    public EventGridRelay(IServiceProvider services, int port)
    {
        _blobsWebhook = services.GetServices<IExtensionConfigProvider>()
            .OfType<IAsyncConverter<HttpRequestMessage, HttpResponseMessage>>()
            .FirstOrDefault(provider => provider.GetType().Name == "BlobsExtensionConfigProvider")
            ?? throw new InvalidOperationException("The blobs extension's webhook handler was not found.");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        Url = $"http://127.0.0.1:{port}/runtime/webhooks/blobs";
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception error) when (error is ObjectDisposedException or HttpListenerException or InvalidOperationException)
            {
                return; // stopped
            }
            _ = Task.Run(() => RelayAsync(context));
        }
    }

    private async Task RelayAsync(HttpListenerContext context)
    {
        try
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), context.Request.Url)
            {
                Content = new ByteArrayContent(body.ToArray()),
            };
            foreach (string? name in context.Request.Headers.AllKeys)
            {
                if (name is null) continue;
                var values = context.Request.Headers.GetValues(name) ?? [];
                if (!request.Headers.TryAddWithoutValidation(name, values)) request.Content.Headers.TryAddWithoutValidation(name, values);
            }
            using var response = await _blobsWebhook.ConvertAsync(request, CancellationToken.None);
            context.Response.StatusCode = (int)response.StatusCode;
            var bytes = response.Content is null ? [] : await response.Content.ReadAsByteArrayAsync();
            await context.Response.OutputStream.WriteAsync(bytes);
        }
        catch (Exception error)
        {
            Console.Error.WriteLine($"oracle: webhook relay failed: {error}");
            context.Response.StatusCode = 500;
        }
        finally
        {
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // the pending accept ends this way when the listener closes
        }
    }
}
