using System.Threading;

namespace Qmq
{
    /// A wake-up flag for one sleeping thread, without spinning: <see cref="Set"/> wakes the
    /// thread in <see cref="Wait"/> (or makes its next Wait return at once). SemaphoreSlim spins
    /// before it blocks, which costs CPU the sending threads need on a small machine.
    internal sealed class WakeSignal
    {
        private readonly object _lock = new object();
        private bool _set;

        internal void Set()
        {
            lock (_lock)
            {
                _set = true;
                Monitor.Pulse(_lock);
            }
        }

        internal void Wait()
        {
            lock (_lock)
            {
                while (!_set) Monitor.Wait(_lock);
                _set = false;
            }
        }
    }
}
