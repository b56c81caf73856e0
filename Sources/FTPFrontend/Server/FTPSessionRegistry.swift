import NIOCore
import OSSVFS

/// The control connections open now and the transfer tasks still running: what a graceful
/// stop tells and waits for.
final class FTPSessionRegistry: @unchecked Sendable {
    private let lock = Lock()
    private var channels: [ObjectIdentifier: (channel: any Channel, activity: FTPSessionActivity)] = [:]
    private var stopping = false
    private var transferTasks = 0

    /// Records a new session; false once the server is stopping (the session should close).
    func add(_ channel: any Channel, _ activity: FTPSessionActivity) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            channels[ObjectIdentifier(channel)] = (channel, activity)
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = lock.withLock { channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Whether the server is stopping: sessions end once their transfer does.
    var isStopping: Bool { lock.withLock { stopping } }

    /// Starts a stop: no session is added from here on. Returns the open ones.
    func beginStop() -> [any Channel] {
        lock.withLock {
            stopping = true
            return channels.values.map(\.channel)
        }
    }

    var all: [any Channel] { lock.withLock { channels.values.map(\.channel) } }

    /// What each session is doing now.
    var activities: [FTPSessionActivity] { lock.withLock { channels.values.map(\.activity) } }

    /// Counts transfer tasks from start to their very end (an aborted upload's cleanup
    /// included), so that the process does not exit under them.
    func transferTaskStarted() { lock.withLock { transferTasks += 1 } }
    func transferTaskEnded() { lock.withLock { transferTasks -= 1 } }
    var transferTasksRunning: Int { lock.withLock { transferTasks } }
}

/// Told to every session when the server starts to stop.
struct FTPServerStopping {}
