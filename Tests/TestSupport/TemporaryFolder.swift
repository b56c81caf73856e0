import Foundation

/// A fresh folder under the system temporary directory, removed by `remove()`.
public struct TemporaryFolder {
    public let path: String

    public init() throws {
        try self.init(under: NSTemporaryDirectory())
    }

    /// A folder under `parent` (for a second file system, say `/dev/shm`).
    public init(under parent: String) throws {
        path = (parent.hasSuffix("/") ? parent : parent + "/") + "ossvfs-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func make(_ relative: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Collects a byte stream.
public func collect(_ stream: some AsyncSequence<[UInt8], any Error>) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    for try await chunk in stream { bytes += chunk }
    return bytes
}
