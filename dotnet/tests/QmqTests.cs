// NUnit 2.6 tests against a real qmq-server (QMQ_META_URL, started by ci/dotnet-tests.sh).
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using Qmq;

namespace Qmq.Tests
{
    [TestFixture]
    public class QmqTests
    {
        static string Url { get { return TestSupport.Url; } }

        static string NewSubject(string what) { return TestSupport.NewSubject(what); }

        static QmqException Throws(QmqErrorCode code, Action a)
        {
            try { a(); }
            catch (QmqException e)
            {
                Assert.AreEqual(code, e.Code, e.Message);
                return e;
            }
            Assert.Fail("expected QmqException " + code);
            return null;
        }

        [Test]
        public void SendAsyncCompletesWithBrokerGroup()
        {
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                var m = p.GenerateMessage(NewSubject("async"));
                m.SetProperty("k", "v");
                m.SetProperty("n", 42);
                Assert.AreEqual("v", m.GetStringProperty("k"));
                Assert.AreEqual("42", m.GetStringProperty("n"));
                Assert.IsNull(m.GetStringProperty("absent"));
                Assert.IsNotNullOrEmpty(m.MessageId);
                var t = p.SendAsync(m);
                Assert.IsTrue(t.Wait(TimeSpan.FromSeconds(30)), "send timed out");
                Assert.AreSame(m, t.Result);
                Assert.IsNotNullOrEmpty(m.BrokerGroup);
                Assert.IsNull(m.SendError);
            }
        }

        [Test]
        public void SendWithCallbacks()
        {
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                var done = new ManualResetEventSlim();
                Message ok = null;
                string thread = null;
                int failed = 0;
                var m = p.GenerateMessage(NewSubject("cb"));
                p.Send(m, x => { ok = x; thread = Thread.CurrentThread.Name; done.Set(); }, x => { Interlocked.Increment(ref failed); done.Set(); });
                Assert.IsTrue(done.Wait(TimeSpan.FromSeconds(30)));
                Assert.AreSame(m, ok);
                Assert.AreEqual(0, failed);
                // Callbacks run on the library's completion-queue thread, not a library thread.
                Assert.AreEqual("qmq-completions", thread);
                Assert.IsNotNullOrEmpty(ok.MessageId, "id from the send result");
                Assert.IsNotNullOrEmpty(ok.BrokerGroup);
                p.Flush(TimeSpan.FromSeconds(10));
            }
        }

        [Test]
        public void SubscribeReceivesPropertiesAndTags()
        {
            string subject = NewSubject("sub");
            using (var c = new MessageConsumerProvider(Url, "dotnet-test"))
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                var got = new BlockingCollection<ReceivedMessage>();
                var sub = c.Subscribe(subject, "g1");
                sub.Received += msg => got.Add(msg);
                sub.Start();
                Assert.Throws<InvalidOperationException>(() => sub.Start());
                Thread.Sleep(2000); // a new group sees messages sent after it registered
                var m = p.GenerateMessage(subject);
                m.SetProperty("name", "héllo wörld");
                m.SetProperty("flag", true);
                m.AddTag("red");
                CollectionAssert.AreEqual(new[] { "red" }, m.GetTags().ToArray());
                string id = m.MessageId;
                p.SendAsync(m).Wait(TimeSpan.FromSeconds(30));
                ReceivedMessage r;
                Assert.IsTrue(got.TryTake(out r, TimeSpan.FromSeconds(30)), "nothing received");
                Assert.AreEqual(subject, r.Subject);
                Assert.AreEqual(id, r.MessageId);
                Assert.AreEqual("héllo wörld", r.GetStringProperty("name"));
                Assert.AreEqual("true", r.GetStringProperty("flag"));
                Assert.AreEqual(1, r.Times);
                CollectionAssert.Contains(r.Tags.ToArray(), "red");
                sub.Stop(TimeSpan.FromSeconds(10));
                sub.Dispose();
            }
        }

        [Test]
        public void ThrowingHandlerGetsRedelivered()
        {
            string subject = NewSubject("retry");
            using (var c = new MessageConsumerProvider(Url, "dotnet-test"))
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                var times = new BlockingCollection<int>();
                using (var sub = c.Subscribe(subject, "g1"))
                {
                    sub.Received += msg => { times.Add(msg.Times); if (msg.Times == 1) throw new Exception("first try fails"); };
                    sub.Start();
                    Thread.Sleep(2000);
                    p.SendAsync(p.GenerateMessage(subject)).Wait(TimeSpan.FromSeconds(30));
                    int t;
                    Assert.IsTrue(times.TryTake(out t, TimeSpan.FromSeconds(30)));
                    Assert.AreEqual(1, t);
                    Assert.IsTrue(times.TryTake(out t, TimeSpan.FromSeconds(40)), "not redelivered");
                    Assert.AreEqual(2, t);
                    sub.Stop(TimeSpan.FromSeconds(10));
                }
            }
        }

        [Test]
        public void PullAndAck()
        {
            string subject = NewSubject("pull");
            using (var c = new MessageConsumerProvider(Url, "dotnet-test"))
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            using (var pc = c.GetPullConsumer(subject, "g1"))
            {
                Thread.Sleep(2000);
                var ids = new HashSet<string>();
                for (int i = 0; i < 5; i++)
                {
                    var m = p.GenerateMessage(subject);
                    m.SetProperty("i", i);
                    ids.Add(m.MessageId);
                    p.Send(m);
                }
                p.Flush(TimeSpan.FromSeconds(30));
                var seen = new HashSet<string>();
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (seen.Count < 5 && DateTime.UtcNow < deadline)
                {
                    foreach (var msg in pc.Pull(5, TimeSpan.FromSeconds(2)))
                    {
                        using (msg)
                        {
                            seen.Add(msg.MessageId);
                            msg.Ack();
                            Throws(QmqErrorCode.AlreadyAcked, () => msg.Ack());
                        }
                    }
                }
                CollectionAssert.AreEquivalent(ids, seen);
                pc.Close();
                Throws(QmqErrorCode.Closed, () => pc.Pull(1, TimeSpan.FromMilliseconds(10)));
            }
        }

        [Test]
        public void ClosedProducerRejectsWork()
        {
            var p = new MessageProducerProvider(Url, "dotnet-test");
            var pending = p.GenerateMessage(NewSubject("closed"));
            p.Close(TimeSpan.FromSeconds(5));
            p.Close(TimeSpan.FromSeconds(5)); // idempotent
            Throws(QmqErrorCode.Closed, () => p.GenerateMessage("dotnet.closed"));
            Throws(QmqErrorCode.Closed, () => p.Send(pending));
            p.Dispose();
            p.Dispose(); // idempotent
            Assert.Throws<ObjectDisposedException>(() => p.GenerateMessage("dotnet.closed"));
            Assert.Throws<ObjectDisposedException>(() => p.Flush(TimeSpan.FromSeconds(1)));
        }

        [Test]
        public void BadInputIsRejected()
        {
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                Throws(QmqErrorCode.InvalidMessage, () => p.GenerateMessage(""));
                Throws(QmqErrorCode.InvalidMessage, () => p.GenerateMessage("has space"));
                Assert.Throws<ArgumentNullException>(() => p.GenerateMessage(null));
                var m = p.GenerateMessage(NewSubject("bad"));
                var big = new string('x', 40000);
                var e = Throws(QmqErrorCode.InvalidMessage, () => m.SetProperty("big", big));
                Assert.IsFalse(e.IsRetriable);
                Throws(QmqErrorCode.InvalidMessage, () => m.SetProperty("", "v"));
                m.SetLargeString("big", big); // the large-string form takes any length
                for (int i = 0; i < 10; i++) m.AddTag("t" + i);
                Throws(QmqErrorCode.InvalidMessage, () => m.AddTag("t10"));
                var t = p.SendAsync(m);
                Assert.IsTrue(t.Wait(TimeSpan.FromSeconds(30)));
                Assert.Throws<InvalidOperationException>(() => m.SetProperty("k", "v"));
                Assert.Throws<InvalidOperationException>(() => p.Send(m));
            }
            Throws(QmqErrorCode.Config, () => new MessageProducerProvider("not a url", "dotnet-test").Dispose());
            using (var c = new MessageConsumerProvider(Url, "dotnet-test"))
            {
                Throws(QmqErrorCode.InvalidMessage, () => c.GetPullConsumer("bad subject", "g"));
                var sub = c.Subscribe(NewSubject("badopt"), "g", new ConsumeOptions { Concurrency = 100000 });
                Throws(QmqErrorCode.Config, () => sub.Start());
                var pc = c.GetPullConsumer(NewSubject("x"), "g");
                Assert.Throws<ArgumentOutOfRangeException>(() => pc.Pull(0));
                pc.Dispose();
                Assert.Throws<ObjectDisposedException>(() => pc.Pull(1));
            }
        }

        [Test]
        public void AbandonedProducerStillCompletesEverySend()
        {
            // No Dispose: the provider becomes garbage with sends in flight. Every send keeps
            // the client handle AddRef'd until its completion, so the finalizer cannot free it
            // under the library, and every callback runs exactly once.
            const int N = 2000;
            int done = 0;
            var all = new ManualResetEventSlim();
            SendAndDrop(N, () => { if (Interlocked.Increment(ref done) == N) all.Set(); });
            for (int i = 0; i < 5; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
            Assert.IsTrue(all.Wait(TimeSpan.FromSeconds(60)), "completed " + done);
            Thread.Sleep(200);
            Assert.AreEqual(N, Volatile.Read(ref done));
        }

        static void SendAndDrop(int n, Action onDone)
        {
            var p = new MessageProducerProvider(Url, "dotnet-test");
            string subject = NewSubject("drop");
            for (int i = 0; i < n; i++) p.Send(p.GenerateMessage(subject), m => onDone(), m => onDone());
        }

        [Test]
        public void DisposeDuringSendsCompletesThemAll()
        {
            const int N = 2000;
            var p = new MessageProducerProvider(Url, "dotnet-test");
            string subject = NewSubject("dispose");
            var tasks = new List<Task<Message>>();
            for (int i = 0; i < N; i++) tasks.Add(p.SendAsync(p.GenerateMessage(subject)));
            p.Dispose();
            try { Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(60)); } catch (AggregateException) { }
            foreach (var t in tasks)
            {
                Assert.IsTrue(t.IsCompleted);
                if (t.IsFaulted) Assert.IsInstanceOf<QmqException>(t.Exception.InnerException);
            }
        }

        [Test]
        public void LogSinkCanBeSetAndCleared()
        {
            int n = 0;
            try { QmqLog.SetSink((lvl, target, msg) => Interlocked.Increment(ref n), QmqLogLevel.Debug); }
            catch (QmqException e) { Assert.AreEqual(QmqErrorCode.LogSinkUnavailable, e.Code); return; }
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
                p.SendAsync(p.GenerateMessage(NewSubject("log"))).Wait(TimeSpan.FromSeconds(30));
            QmqLog.SetSink(null);
            int after = Volatile.Read(ref n);
            Thread.Sleep(100);
            Assert.AreEqual(after, Volatile.Read(ref n), "sink called after it was cleared");
            Console.WriteLine("log records forwarded: {0}", after);
        }

        [Test]
        public void HundredThousandMessagesWithCallbacks()
        {
            const int N = 100000;
            string subject = NewSubject("bulk");
            var sw = Stopwatch.StartNew();
            using (var c = new MessageConsumerProvider(Url, "dotnet-test"))
            using (var p = new MessageProducerProvider(Url, "dotnet-test"))
            {
                int received = 0;
                var receivedIds = new ConcurrentDictionary<string, byte>();
                var allReceived = new ManualResetEventSlim();
                var sub = c.Subscribe(subject, "bulk", new ConsumeOptions { Concurrency = 16 });
                sub.Received += msg =>
                {
                    if (receivedIds.TryAdd(msg.MessageId, 0) && Interlocked.Increment(ref received) == N) allReceived.Set();
                };
                sub.Start();
                Thread.Sleep(2000);

                int ok = 0, failed = 0;
                var allSent = new ManualResetEventSlim();
                Action<Message> onDone = m => { if (Interlocked.Increment(ref ok) + Volatile.Read(ref failed) == N) allSent.Set(); };
                Action<Message> onFail = m => { if (Interlocked.Increment(ref failed) + Volatile.Read(ref ok) == N) allSent.Set(); };
                for (int i = 0; i < N; i++)
                {
                    var m = p.GenerateMessage(subject);
                    m.SetProperty("i", i);
                    p.Send(m, onDone, onFail);
                }
                Assert.IsTrue(allSent.Wait(TimeSpan.FromSeconds(120)), "sends: " + ok + " ok, " + failed + " failed");
                Assert.AreEqual(0, failed);
                Assert.AreEqual(N, ok);
                Console.WriteLine("100k: sent in {0:F1} s", sw.Elapsed.TotalSeconds);
                Assert.IsTrue(allReceived.Wait(TimeSpan.FromSeconds(120)), "received " + received);
                Console.WriteLine("100k: received in {0:F1} s", sw.Elapsed.TotalSeconds);
                sub.Stop(TimeSpan.FromSeconds(10));
                sub.Dispose();
            }
        }
    }

    static class TestExt
    {
        public static Message GenerateMessageOrNull(this MessageProducerProvider p)
        {
            try { return p.GenerateMessage("dotnet.x"); } catch (QmqException) { return null; }
        }
    }
}
