import NIOCore
import OSSVFS

/// The control connections open now, and which of them are moving data: what a graceful stop
/// waits for.
final class FTPSessionRegistry: @unchecked Sendable {
    private let lock = Lock()
    private var channels: [ObjectIdentifier: any Channel] = [:]
    private var transferring: Set<ObjectIdentifier> = []
    private var stopping = false
    private var transferTasks = 0

    /// Records a new session; false once the server is stopping (the session should close).
    func add(_ channel: any Channel) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        lock.withLock {
            channels[ObjectIdentifier(channel)] = nil
            transferring.remove(ObjectIdentifier(channel))
        }
    }

    func setTransferring(_ channel: any Channel, _ value: Bool) {
        lock.withLock {
            if value { transferring.insert(ObjectIdentifier(channel)) } else { transferring.remove(ObjectIdentifier(channel)) }
        }
    }

    /// Whether the server is stopping: sessions end once their transfer does.
    var isStopping: Bool { lock.withLock { stopping } }

    /// Starts a stop: returns the sessions with no transfer running (to close now).
    func beginStop() -> [any Channel] {
        lock.withLock {
            stopping = true
            return channels.filter { !transferring.contains($0.key) }.map(\.value)
        }
    }

    var transfersRunning: Int { lock.withLock { transferring.count } }

    /// Counts transfer tasks from start to their very end (an aborted upload's cleanup
    /// included), so that the process does not exit under them.
    func transferTaskStarted() { lock.withLock { transferTasks += 1 } }
    func transferTaskEnded() { lock.withLock { transferTasks -= 1 } }
    var transferTasksRunning: Int { lock.withLock { transferTasks } }

    var all: [any Channel] { lock.withLock { Array(channels.values) } }
}
