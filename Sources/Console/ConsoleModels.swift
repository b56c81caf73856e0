/// What the console shows, as the JSON API returns it. The executable fills these from the
/// FTP server, the spool and config.json; the console knows nothing of either.

/// The server at a glance.
public struct ConsoleStatus: Codable, Sendable {
    public var version: String
    public var startedAt: String
    public var uptimeSeconds: Int
    public var ftpAddress: String
    public var store: String
    public var sessions: Int
    public var transfers: Int

    public init(version: String, startedAt: String, uptimeSeconds: Int, ftpAddress: String, store: String,
                sessions: Int, transfers: Int) {
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.ftpAddress = ftpAddress
        self.store = store
        self.sessions = sessions
        self.transfers = transfers
    }
}

/// One control connection.
public struct ConsoleSession: Codable, Sendable {
    public var id: UInt64
    public var user: String?
    public var address: String
    public var directory: String
    public var connectedSeconds: Int
    public var idleSeconds: Int
    public var transfer: ConsoleTransfer?

    public init(id: UInt64, user: String?, address: String, directory: String, connectedSeconds: Int,
                idleSeconds: Int, transfer: ConsoleTransfer?) {
        self.id = id
        self.user = user
        self.address = address
        self.directory = directory
        self.connectedSeconds = connectedSeconds
        self.idleSeconds = idleSeconds
        self.transfer = transfer
    }
}

/// A transfer in progress.
public struct ConsoleTransfer: Codable, Sendable {
    /// "upload", "download" or "listing".
    public var direction: String
    public var path: String
    public var bytes: Int64
    /// The whole size when known (downloads).
    public var size: Int64?
    public var seconds: Double
    public var bytesPerSecond: Double

    public init(direction: String, path: String, bytes: Int64, size: Int64?, seconds: Double) {
        self.direction = direction
        self.path = path
        self.bytes = bytes
        self.size = size
        self.seconds = seconds
        self.bytesPerSecond = seconds > 0 ? Double(bytes) / seconds : 0
    }
}

/// The upload spool: disk in use against the budget, and write-back uploads not yet stored.
public struct ConsoleSpool: Codable, Sendable {
    public var usedBytes: Int64
    public var peakBytes: Int64
    public var budgetBytes: Int64
    public var writeBack: Bool
    public var pending: [ConsolePendingUpload]
    /// Write-back uploads the store refused after their 226, kept in the spool's `refused`
    /// folder for the operator.
    public var refused: [ConsoleRefusedUpload]

    public init(usedBytes: Int64, peakBytes: Int64, budgetBytes: Int64, writeBack: Bool,
                pending: [ConsolePendingUpload], refused: [ConsoleRefusedUpload] = []) {
        self.usedBytes = usedBytes
        self.peakBytes = peakBytes
        self.budgetBytes = budgetBytes
        self.writeBack = writeBack
        self.pending = pending
        self.refused = refused
    }
}

/// A write-back upload the store refused after its client was told it is stored.
public struct ConsoleRefusedUpload: Codable, Sendable {
    public var bucket: String
    public var key: String
    public var size: Int64
    /// Where its bytes are kept.
    public var folder: String
    /// Whether the whole file is there (otherwise only some of its parts).
    public var whole: Bool
    public var error: String

    public init(bucket: String, key: String, size: Int64, folder: String, whole: Bool, error: String) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.folder = folder
        self.whole = whole
        self.error = error
    }
}

/// An upload reported done to its client and still being sent to the store.
public struct ConsolePendingUpload: Codable, Sendable {
    public var bucket: String
    public var key: String
    public var size: Int64
    public var parts: Int
    public var partsSent: Int
    public var state: String

    public init(bucket: String, key: String, size: Int64, parts: Int, partsSent: Int, state: String) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.parts = parts
        self.partsSent = partsSent
        self.state = state
    }
}

/// config.json as the server runs it, secrets masked, and the settings the console may edit.
public struct ConsoleConfiguration: Codable, Sendable {
    public var path: String?
    public var masked: String
    public var settings: [ConsoleSetting]

    public init(path: String?, masked: String, settings: [ConsoleSetting]) {
        self.path = path
        self.masked = masked
        self.settings = settings
    }
}

/// One editable setting: its key under `modules.ossftp`, its value now and what it means.
public struct ConsoleSetting: Codable, Sendable {
    public var key: String
    public var value: String
    public var help: String

    public init(key: String, value: String, help: String) {
        self.key = key
        self.value = value
        self.help = help
    }
}

/// A refused edit: what is wrong, said as `config check` would.
public struct ConsoleEditError: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Where the console's figures come from.
public protocol ConsoleSource: Sendable {
    func status() async -> ConsoleStatus
    func sessions() async -> [ConsoleSession]
    func spool() async -> ConsoleSpool
    func configuration() async -> ConsoleConfiguration
    /// Validates `value` for `key` as a start would, then writes config.json and applies it;
    /// throws ``ConsoleEditError`` and changes nothing when it is not valid.
    func update(_ key: String, to value: String) async throws -> ConsoleConfiguration
    /// Rereads config.json and applies it, as SIGHUP does.
    func reload() async throws
    /// The Prometheus text exposition of every metric.
    func metrics() -> String
}
