import NIOCore
import NIOPosix

/// A `TaskExecutor` that runs jobs on NIO's event loops, each job on the group's next loop.
///
/// The servers run their Hummingbird applications with it as the task executor preference: ``MetricsServer`` and
/// ``RunningServer`` (the gateway, the read API). Their tasks and the child tasks (binding, accepting, one per
/// connection and request) then never need a thread of Swift's cooperative pool, which has as many threads as
/// cores and which other work in the process can hold: a test runner's synchronous tests do (a CI run saw the
/// in-process read API take 16 s for one answer, and requests time out). That is also what lets
/// ``MetricsServer/start(host:port:registry:logger:)`` block its caller, whatever thread that is. Unstructured tasks
/// do not inherit the preference: a server creates its own with `Task(executorPreference:)`, and the few that
/// Hummingbird and ServiceLifecycle create on shutdown run on the pool. Jobs must not block: request handlers hand
/// database work to thread pools of their own (`PostgresPool`).
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The executor of the process's servers, on the event loops Hummingbird serves from.
    public static let servers = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton)

    private let group: any EventLoopGroup

    init(_ group: any EventLoopGroup) {
        self.group = group
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        group.next().execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
