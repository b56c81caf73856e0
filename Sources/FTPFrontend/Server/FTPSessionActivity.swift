import Foundation
import OSSVFS

/// What one control connection is doing, for the console: written by its handler on the
/// event loop and by its transfer task, read from any thread.
final class FTPSessionActivity: @unchecked Sendable {
    private static let idLock = Lock()
    nonisolated(unsafe) private static var lastID: UInt64 = 0

    let id: UInt64
    let address: String
    // Durations on the monotonic clock (MonotonicTime): the stall watchdog aborted uploads as
    // stalled when the wall clock was set forward, and let stalled ones be when it was set back.
    let openedAt = MonotonicTime.now
    private let lock = Lock()
    private var user: String?
    private var directory = "/"
    private var lastCommandAt = MonotonicTime.now
    private var transfer: FTPTransferProgress?

    init(address: String) {
        self.id = Self.idLock.withLock { Self.lastID += 1; return Self.lastID }
        self.address = address
    }

    func commandReceived() { lock.withLock { lastCommandAt = MonotonicTime.now } }
    func loggedIn(as user: String) { lock.withLock { self.user = user } }
    func loggedOut() { lock.withLock { user = nil } }
    func moved(to directory: String) { lock.withLock { self.directory = directory } }
    /// The transfer now running, or nil once it ended.
    func setTransfer(_ progress: FTPTransferProgress?) { lock.withLock { transfer = progress } }

    var snapshot: FTPSessionSnapshot {
        let now = MonotonicTime.now
        return lock.withLock {
            FTPSessionSnapshot(
                id: id, user: user, address: address, directory: directory,
                connectedSeconds: now - openedAt, idleSeconds: now - lastCommandAt,
                transfer: transfer?.snapshot(now: now))
        }
    }
}

/// Bytes moved by one transfer so far, and when the last ones moved (the stall watchdog's
/// clock); counted by the transfer task as each chunk goes, under one lock.
final class FTPTransferProgress: @unchecked Sendable {
    enum Direction: String, Sendable {
        case upload, download, listing
    }

    let direction: Direction
    let startedAt = MonotonicTime.now
    private let lock = Lock()
    private var path: String
    private var bytes: Int64 = 0
    private var size: Int64?
    private var lastMoved = MonotonicTime.now
    private var storeWaits = 0

    init(_ transfer: FTPSessionStateMachine.Transfer) {
        switch transfer {
        case .list(let path, _, _, _, _): (direction, self.path) = (.listing, path.description)
        case .retrieve(let path, _): (direction, self.path) = (.download, path.description)
        case .store(let path, _), .storeUnique(let path, _), .append(let path):
            (direction, self.path) = (.upload, path.description)
        }
    }

    /// The path the transfer goes to after all: STOU's free name instead of the one asked for.
    func retarget(_ path: VFSPath) { lock.withLock { self.path = path.description } }

    func expect(_ size: UInt64?) { lock.withLock { self.size = size.map { Int64($0) } } }

    func moved(_ count: Int) {
        lock.withLock {
            bytes += Int64(count)
            lastMoved = MonotonicTime.now
        }
        switch direction {
        case .upload: FTPMetrics.bytesIn.increment(by: Int64(count))
        case .download, .listing: FTPMetrics.bytesOut.increment(by: Int64(count))
        }
    }

    /// The transfer still moves bytes that are not counted yet (a write under way, which the
    /// socket is sending): the stall watchdog starts over.
    func stillMoving(secondsAgo: Double = 0) {
        let then = MonotonicTime.now - secondsAgo
        lock.withLock { lastMoved = max(lastMoved, then) }
    }

    /// The transfer waits on the store (a part uploading, a range on its way), not on the
    /// client, from `true` to `false`: the stall watchdog does not count that time.
    func waitingOnStore(_ waiting: Bool) {
        lock.withLock {
            storeWaits += waiting ? 1 : -1
            lastMoved = MonotonicTime.now
        }
    }

    /// Seconds the client has moved nothing (0 while the transfer waits on the store).
    var secondsSinceMoved: Double { lock.withLock { storeWaits > 0 ? 0 : MonotonicTime.now - lastMoved } }

    /// The transfer as it stands now.
    var snapshotNow: FTPTransferSnapshot { snapshot(now: MonotonicTime.now) }

    /// The transfer as it stands at `now` (``MonotonicTime``).
    func snapshot(now: Double) -> FTPTransferSnapshot {
        lock.withLock {
            FTPTransferSnapshot(direction: direction.rawValue, path: path, bytes: bytes, size: size,
                                seconds: now - startedAt)
        }
    }
}

/// A control connection as the console shows it.
public struct FTPSessionSnapshot: Sendable {
    public var id: UInt64
    public var user: String?
    public var address: String
    public var directory: String
    public var connectedSeconds: Double
    public var idleSeconds: Double
    public var transfer: FTPTransferSnapshot?
}

/// A transfer in progress as the console shows it.
public struct FTPTransferSnapshot: Sendable {
    public var direction: String
    public var path: String
    public var bytes: Int64
    public var size: Int64?
    public var seconds: Double
}
