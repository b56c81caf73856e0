import NIOCore

/// Runs a task's jobs on one event loop: a control connection's work starts, and resumes, on
/// the loop that owns the connection.
///
/// Without it, a `Task` lands on whichever loop the global executor picks next, so each
/// command that needs async work (a login, a VFS call) crossed threads twice: out to another
/// loop, and back with `execute`. Each crossing is an eventfd write and a wake-up; on the
/// connection's own loop `execute` only queues the job for the loop's next turn.
/// Blocking work still leaves the loop, through ``BlockingIO``.
final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
