// Producer throughput of the .NET binding: 100-byte messages (property "body", as the Rust
// baseline ffi/examples/bench_rust_producer.rs) for N seconds against a running server, sent with
// Send(onSuccess, onFailed) (mode "callbacks", default) or SendAsync (mode "tasks"); the
// producer back-pressures by retrying a full queue. Prints one line
// `dotnet_producer: OK ok, F failed of S in T s = R msg/s`.
// Usage: mono ProducerBench.exe META_URL SECONDS [callbacks|tasks]
using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Qmq;

static class ProducerBench
{
    static int Main(string[] args)
    {
        string url = args[0];
        double seconds = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        string mode = args.Length > 2 ? args[2] : "callbacks";
        string body = new string('b', 100);
        string subject = "bench.dotnet";
        using (var p = new MessageProducerProvider(url, "bench"))
        {
            p.SendAsync(p.GenerateMessage(subject)).Wait(); // warm-up (route lookup)
            long ok = 0, failed = 0, sent = 0;
            Action<Message> onOk = m => Interlocked.Increment(ref ok);
            Action<Message> onFail = m => Interlocked.Increment(ref failed);
            Action<Task<Message>> cont = t => { if (t.Status == TaskStatus.RanToCompletion) Interlocked.Increment(ref ok); else Interlocked.Increment(ref failed); };
            var sw = Stopwatch.StartNew();
            long limit = (long)(seconds * Stopwatch.Frequency);
            bool tasks = mode == "tasks";
            while (sw.ElapsedTicks < limit)
            {
                var m = p.GenerateMessage(subject);
                m.SetProperty("body", body);
                if (tasks) p.SendAsync(m).ContinueWith(cont, TaskContinuationOptions.ExecuteSynchronously);
                else p.Send(m, onOk, onFail);
                sent++;
            }
            p.Flush(TimeSpan.FromSeconds(60));
            // callbacks are queued to the thread pool after the completion: wait for them too
            var wait = Stopwatch.StartNew();
            while (Interlocked.Read(ref ok) + Interlocked.Read(ref failed) < sent && wait.Elapsed.TotalSeconds < 30) Thread.Sleep(1);
            double elapsed = sw.Elapsed.TotalSeconds;
            Console.WriteLine("dotnet_producer ({0}): {1} ok, {2} failed of {3} in {4:F2} s = {5:F0} msg/s",
                mode, ok, failed, sent, elapsed, ok / elapsed);
            return failed == 0 ? 0 : 1;
        }
    }
}
