// Smoke program run from the installed NuGet package: send one message, pull it back.
// Usage: mono Smoke.exe META_URL
using System;
using System.Threading;
using Qmq;

class Program
{
    static int Main(string[] args)
    {
        string url = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("QMQ_META_URL");
        string subject = "dotnet.smoke." + Guid.NewGuid().ToString("N").Substring(0, 8);
        using (var consumer = new MessageConsumerProvider(url, "smoke"))
        using (var producer = new MessageProducerProvider(url, "smoke"))
        using (var pull = consumer.GetPullConsumer(subject, "smoke"))
        {
            Thread.Sleep(2000);
            var m = producer.GenerateMessage(subject);
            m.SetProperty("hello", "world");
            producer.SendAsync(m).Wait(TimeSpan.FromSeconds(30));
            Console.WriteLine("sent {0} to {1}", m.MessageId, m.BrokerGroup);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                foreach (var msg in pull.Pull(1, TimeSpan.FromSeconds(2)))
                {
                    using (msg)
                    {
                        msg.Ack();
                        if (msg.MessageId == m.MessageId && msg.GetStringProperty("hello") == "world")
                        {
                            Console.WriteLine("smoke: ok");
                            return 0;
                        }
                    }
                }
            }
        }
        Console.WriteLine("smoke: message not received");
        return 1;
    }
}
