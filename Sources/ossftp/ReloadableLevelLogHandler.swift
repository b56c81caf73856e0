import Logging
import OSSVFS

/// The server's log handlers behind one level that a reload can change: swift-log asks each
/// logger's handler for its level, and every logger of the process was made with a handler
/// at the level of the start.
struct ReloadableLevelLogHandler: LogHandler {
    /// The level in force (`log_level`, `--loglevel`).
    static let level = LockedBox(Logger.Level.info)

    /// The handlers that write, taking everything this one lets through.
    var inner: MultiplexLogHandler

    var logLevel: Logger.Level {
        get { Self.level.value }
        // A logger's own level change would change every logger's: it is not taken.
        set {}
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
