import Dispatch
import OSSVFS

/// Runs async VFS work from libfuse's worker threads. Those threads are libfuse's own, never
/// an event loop or the cooperative pool, so parking one until the task is done blocks nobody
/// else; libfuse's multi-threaded loop starts more workers while some wait.
enum BlockingBridge {
    private final class Box<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }

    /// The task's value, or its error.
    static func run<T>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                box.result = .success(try await work())
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return box.result!
    }

    /// 0 when the work succeeds, else the negative errno libfuse expects.
    static func status(_ work: @escaping @Sendable () async throws -> Void) -> Int32 {
        switch run(work) {
        case .success: return 0
        case .failure(let error): return -FuseErrno.code(forAny: error)
        }
    }
}
