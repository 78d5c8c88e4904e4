// What every test class against the real server shares (ci/dotnet-tests.sh starts it).
using System;
using NUnit.Framework;

namespace Qmq.Tests
{
    static class TestSupport
    {
        /// The running server's meta URL (QMQ_META_URL); fails the test when it is not set.
        internal static string Url
        {
            get
            {
                var u = Environment.GetEnvironmentVariable("QMQ_META_URL");
                if (string.IsNullOrEmpty(u)) Assert.Fail("QMQ_META_URL is not set");
                return u;
            }
        }

        /// A subject no other test uses.
        internal static string NewSubject(string what) { return "dotnet." + what + "." + Guid.NewGuid().ToString("N").Substring(0, 8); }
    }
}
