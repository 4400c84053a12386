import Synchronization

/// Asks a long-running loop to finish its current unit of work and return. Safe to set from a signal handler's
/// dispatch source or another task.
public final class StopSignal: Sendable {
    private let stopped = Atomic<Bool>(false)

    public init() {}

    public func stop() { stopped.store(true, ordering: .releasing) }

    public var isStopped: Bool { stopped.load(ordering: .acquiring) }
}
