// Error objects -> QmqException, via the qmq_testing_* exports (libqmq_ffi built with
// `--features testing`, as ci/dotnet-tests.sh does for the NUnit run).
using System;
using System.Runtime.InteropServices;
using NUnit.Framework;
using Qmq;

namespace Qmq.Tests
{
    [TestFixture]
    public class ErrorMappingTests
    {
        [DllImport("qmq_ffi", CallingConvention = CallingConvention.Cdecl)]
        static extern IntPtr qmq_testing_error(int code, [MarshalAs(UnmanagedType.I1)] bool retriable);

        [DllImport("qmq_ffi", CallingConvention = CallingConvention.Cdecl)]
        static extern IntPtr qmq_testing_panic();

        [Test]
        public void EveryCodeMapsWithItsRetriableFlag()
        {
            foreach (QmqErrorCode code in Enum.GetValues(typeof(QmqErrorCode)))
            {
                if (code == QmqErrorCode.Ok) continue;
                foreach (bool retriable in new[] { false, true })
                {
                    var e = Native.TakeError(qmq_testing_error((int)code, retriable));
                    Assert.AreEqual(code, e.Code);
                    Assert.AreEqual(retriable, e.IsRetriable);
                    StringAssert.StartsWith(code.ToString(), e.Message);
                }
            }
            Assert.AreEqual(QmqErrorCode.Internal, Native.TakeError(qmq_testing_error(12345, false)).Code);
        }

        [Test]
        public void PanicBecomesAnException()
        {
            var e = Assert.Throws<QmqException>(() => Native.Check(qmq_testing_panic()));
            Assert.AreEqual(QmqErrorCode.Panic, e.Code);
        }
    }
}
