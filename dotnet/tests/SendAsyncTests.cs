// SendAsync's completion path (SendCompletions.cs): every task completes exactly once, never on a
// library thread, a blocking continuation does not stall other completions, and sends that are
// not accepted fault the task with the right exception.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using Qmq;

namespace Qmq.Tests
{
    [TestFixture]
    public class SendAsyncTests
    {
        static string Url { get { return TestSupport.Url; } }

        static string NewSubject(string what) { return TestSupport.NewSubject(what); }

        [Test]
        public void HundredThousandTasksEachCompleteExactlyOnce()
        {
            const int N = 100000;
            long strayBefore = SendTable.StrayCompletions;
            var tasks = new Task<Message>[N];
            var runs = new int[N];
            int done = 0;
            var all = new ManualResetEventSlim();
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                string subject = NewSubject("many");
                for (int i = 0; i < N; i++)
                {
                    int k = i;
                    tasks[i] = p.SendAsync(p.GenerateMessage(subject));
                    tasks[i].ContinueWith(t =>
                    {
                        Interlocked.Increment(ref runs[k]);
                        if (Interlocked.Increment(ref done) == N) all.Set();
                    }, TaskContinuationOptions.ExecuteSynchronously);
                }
                Assert.IsTrue(all.Wait(TimeSpan.FromSeconds(120)), "completed " + Volatile.Read(ref done) + " of " + N);
            }
            Thread.Sleep(200); // a duplicate completion would show up here
            Assert.AreEqual(N, Volatile.Read(ref done));
            for (int i = 0; i < N; i++)
            {
                Assert.AreEqual(1, runs[i], "continuation runs of task " + i);
                Assert.AreEqual(TaskStatus.RanToCompletion, tasks[i].Status, "task " + i);
                Assert.IsNotNullOrEmpty(tasks[i].Result.BrokerGroup);
            }
            Assert.AreEqual(strayBefore, SendTable.StrayCompletions, "completions for no send in flight");
            Assert.AreEqual(0, SendTable.InFlight);
        }

        [Test]
        public void ContinuationsNeverRunOnALibraryThread()
        {
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                string subject = NewSubject("thread");
                var seen = new List<Task<bool>>();
                // A continuation added to a task already completed runs on the adding thread.
                int me = Thread.CurrentThread.ManagedThreadId;
                for (int i = 0; i < 200; i++)
                    seen.Add(p.SendAsync(p.GenerateMessage(subject)).ContinueWith(
                        t => Thread.CurrentThread.Name == "qmq-completions" || Thread.CurrentThread.ManagedThreadId == me,
                        TaskContinuationOptions.ExecuteSynchronously));
                Assert.IsTrue(Task.WaitAll(seen.ToArray(), TimeSpan.FromSeconds(60)));
                foreach (var t in seen) Assert.IsTrue(t.Result, "continuation ran outside the completion threads");
            }
        }

        [Test]
        public void BlockingContinuationDoesNotStallOtherCompletions()
        {
            // Sync-over-async inside an inline continuation: it waits for a send whose completion
            // is queued behind it, which another drain must complete.
            const int N = 50;
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                string subject = NewSubject("block");
                var chains = new List<Task<bool>>();
                for (int i = 0; i < N; i++)
                    chains.Add(p.SendAsync(p.GenerateMessage(subject)).ContinueWith(
                        t => p.SendAsync(p.GenerateMessage(subject)).Wait(TimeSpan.FromSeconds(30)),
                        TaskContinuationOptions.ExecuteSynchronously));
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Assert.IsTrue(Task.WaitAll(chains.ToArray(), TimeSpan.FromSeconds(90)), "a chain is stuck");
                foreach (var c in chains) Assert.IsTrue(c.Result, "inner send timed out");
                // Helper pumps keep completions going while continuations block.
                Assert.Less(sw.Elapsed.TotalSeconds, 15, "completions stalled (helper pumps: "
                    + CompletionPump.Helpers + ")");
            }
        }

        [Test]
        public void ContinuationWaitingForALaterSendOfTheSameBatchCompletes()
        {
            // Both sends usually complete in one pulled batch: the first one's continuation
            // blocks on the second, which another pump must take from the shared ready queue.
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                string subject = NewSubject("batch");
                var chains = new List<Task<bool>>();
                for (int i = 0; i < 20; i++)
                {
                    var first = p.SendAsync(p.GenerateMessage(subject));
                    var second = p.SendAsync(p.GenerateMessage(subject));
                    chains.Add(first.ContinueWith(t => second.Wait(TimeSpan.FromSeconds(20)),
                        TaskContinuationOptions.ExecuteSynchronously));
                }
                Assert.IsTrue(Task.WaitAll(chains.ToArray(), TimeSpan.FromSeconds(60)), "a chain is stuck");
                foreach (var c in chains) Assert.IsTrue(c.Result, "the later send never completed");
            }
        }

        [Test]
        public void SlowCallbackDoesNotHoldBackOtherCompletions()
        {
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                string subject = NewSubject("slow");
                var release = new ManualResetEventSlim();
                var slowStarted = new ManualResetEventSlim();
                p.Send(p.GenerateMessage(subject), m => { slowStarted.Set(); release.Wait(TimeSpan.FromSeconds(30)); });
                Assert.IsTrue(slowStarted.Wait(TimeSpan.FromSeconds(30)));
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var others = new List<Task<Message>>();
                for (int i = 0; i < 100; i++) others.Add(p.SendAsync(p.GenerateMessage(subject)));
                bool done = Task.WaitAll(others.ToArray(), TimeSpan.FromSeconds(20));
                release.Set();
                Assert.IsTrue(done, "completions waited for a blocked callback");
                Assert.Less(sw.Elapsed.TotalSeconds, 10);
            }
        }

        [Test]
        public void SendAsyncOnClosedProducerFaultsWithClosed()
        {
            var p = new MessageProducerProvider(Url, "dotnet-test");
            var m = p.GenerateMessage(NewSubject("closed"));
            p.Close(TimeSpan.FromSeconds(5));
            var t = p.SendAsync(m);
            Assert.IsTrue(t.IsFaulted, "status " + t.Status);
            var e = t.Exception.InnerException as QmqException;
            Assert.IsNotNull(e, "inner " + t.Exception.InnerException);
            Assert.AreEqual(QmqErrorCode.Closed, e.Code);
            Assert.IsNull(m.SendError, "a refused send is reported by the task only");
            p.Dispose();
            var d = p.SendAsync(m);
            Assert.IsTrue(d.IsFaulted, "status " + d.Status);
            Assert.IsInstanceOf<ObjectDisposedException>(d.Exception.InnerException);
            var n = p.SendAsync(null);
            Assert.IsTrue(n.IsFaulted);
            Assert.IsInstanceOf<ArgumentNullException>(n.Exception.InnerException);
            Assert.AreEqual(0, SendTable.InFlight, "a refused send left its token behind");
        }
    }
}
