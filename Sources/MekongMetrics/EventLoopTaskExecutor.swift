import NIOCore

/// A `TaskExecutor` that runs jobs on one NIO event loop.
///
/// ``MetricsServer`` runs its Hummingbird application with this executor as the task executor preference, so the
/// server's task and its child tasks (binding, accepting, one per connection) never need a thread of Swift's
/// cooperative pool. That is what lets ``MetricsServer/start(host:port:registry:logger:)`` block its caller, whatever
/// thread that is, and keeps `/metrics` answering while the rest of the process saturates the pool. Unstructured
/// tasks do not inherit the preference: the few that Hummingbird and ServiceLifecycle create on shutdown run on
/// the pool.
final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
