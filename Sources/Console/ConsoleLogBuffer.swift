import Foundation
import Logging

/// The last log lines and the last errors, for the console's log tail and error list. Fed by
/// ``ConsoleLogHandler`` beside the stderr handler; bounded, so it never grows.
public final class ConsoleLogBuffer: @unchecked Sendable {
    /// One logged event.
    public struct Entry: Codable, Sendable {
        public var time: String
        public var level: String
        public var message: String
        public var metadata: [String: String]
    }

    private let lock = NSLock()
    private var lines: [Entry] = []
    private var errors: [Entry] = []
    private let capacity: Int
    private let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    public init(capacity: Int = 500) {
        self.capacity = capacity
    }

    func append(level: Logger.Level, message: String, metadata: [String: String]) {
        lock.lock()
        defer { lock.unlock() }
        let entry = Entry(time: formatter.string(from: Date()), level: level.rawValue, message: message,
                          metadata: metadata)
        lines.append(entry)
        if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        if level >= .warning {
            errors.append(entry)
            if errors.count > capacity / 5 { errors.removeFirst(errors.count - capacity / 5) }
        }
    }

    /// The most recent lines, oldest first.
    public func tail(_ count: Int = 200) -> [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return Array(lines.suffix(count))
    }

    /// Recent warnings and errors, oldest first.
    public func recentErrors() -> [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}

/// A swift-log handler that records into a ``ConsoleLogBuffer``.
public struct ConsoleLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let buffer: ConsoleLogBuffer

    public init(buffer: ConsoleLogBuffer, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.buffer = buffer
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged: [String: String] = [:]
        for (key, value) in metadata { merged[key] = "\(value)" }
        for (key, value) in metadataProvider?.get() ?? [:] { merged[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { merged[key] = "\(value)" }
        buffer.append(level: event.level, message: "\(event.message)", metadata: merged)
    }
}
