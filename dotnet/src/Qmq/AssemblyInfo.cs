using System.Runtime.CompilerServices;

// The tests check the error mapping with the library's qmq_testing_* exports.
[assembly: InternalsVisibleTo("Qmq.Tests")]
