import Console
import FTPFrontend
import Foundation
import Logging
import OSSVFS
import Prometheus

/// The running server as the console and SIGHUP see it: figures for the console, the reload
/// that rereads config.json, and the console's validated edits of it.
final class ServeRuntime: ConsoleSource, @unchecked Sendable {
    let flags: ServeCommand
    let server: FTPServer
    let limiter: ConnectionLimiter
    let spool: SpoolConfiguration
    let metricsRegistry: PrometheusCollectorRegistry
    let logger: Logger
    private let settings: LockedBox<ServeSettings>
    /// The settings in force (changed by reloads and console edits).
    var currentSettings: ServeSettings { settings.value }
    /// One reload or edit at a time: two would race on config.json.
    private let reloading = AsyncSerializer()
    private let startedAt = Date()
    /// When it started on the monotonic clock, for the uptime (the wall clock may be set meanwhile).
    private let startedUptime = MonotonicTime.now
    /// The settings the server started with: its listeners are bound to their addresses.
    private let started: ServeSettings

    /// The settings the console may change: each a key of `modules.ossftp`, the flag that sets
    /// it too (and then wins over the file), and what it does.
    static let editable: [(key: String, flag: String, given: @Sendable (ServeCommand) -> Bool, help: String)] = [
        ("max_connections", "--max_connections", { $0.maxConnections != nil }, "control connections at once"),
        ("max_connections_per_ip", "--max_connections_per_ip", { $0.maxConnectionsPerIP != nil },
         "control connections from one address"),
        ("idle_timeout", "--idle_timeout", { $0.idleTimeout != nil }, "seconds an idle control connection is kept"),
        ("ban_threshold", "--ban_threshold", { $0.banThreshold != nil }, "failed logins in 10 minutes that ban an address"),
        ("shutdown_grace_seconds", "--shutdown_grace", { $0.shutdownGrace != nil },
         "seconds transfers may take to finish on stop"),
        // The seed's console set the log level; a reload applies it to every session at once.
        ("log_level", "--loglevel", { $0.loglevel != nil }, "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ]

    init(flags: ServeCommand, settings: ServeSettings, server: FTPServer, limiter: ConnectionLimiter,
         spool: SpoolConfiguration, metricsRegistry: PrometheusCollectorRegistry, logger: Logger) {
        self.flags = flags
        self.settings = LockedBox(settings)
        self.started = settings
        self.server = server
        self.limiter = limiter
        self.spool = spool
        self.metricsRegistry = metricsRegistry
        self.logger = logger
    }

    // MARK: - Reload

    /// Rereads config.json (with the same flags) and applies accounts, limits and the TLS
    /// certificate to new sessions; open sessions go on. On an error nothing changes.
    func reload() async throws {
        try await reloading.run {
            try await BlockingIO.run {
                let (next, authenticator) = try self.validated(configPath: nil)
                self.putInForce(next, authenticator: authenticator)
            }
        }
    }

    /// The settings that `configPath` (or the flags' file) gives, checked, and their accounts.
    /// Reads files (config.json, certificates): call it on `BlockingIO`, never on an event loop.
    private func validated(configPath: String?) throws -> (ServeSettings, any Authenticator) {
        var flags = self.flags
        if let configPath { flags.config = configPath } else { flags.config = settings.value.configPath }
        let next: ServeSettings
        do {
            next = try ServeSettings(flags: flags)
        } catch let error as ConfigError {
            throw ConsoleEditError(error.description)
        }
        return (next, try next.makeAuthenticator(spool: spool, logger: logger))
    }

    /// Applies `next` to new sessions; open sessions go on.
    private func putInForce(_ next: ServeSettings, authenticator: any Authenticator) {
        server.reconfigure(next.ftp, authenticator: authenticator)
        limiter.limits = next.limits
        let previous = settings.value
        // Compared with what is bound, not with the last reload's file (which was never bound).
        if next.ftp.host != started.ftp.host || next.ftp.port != started.ftp.port {
            logger.warning("reload: a new FTP address or port takes a restart; still on \(started.ftp.host):\(started.ftp.port)")
        }
        if next.webAddress != started.webAddress || next.webPort != started.webPort {
            logger.warning("reload: a new console address or port takes a restart; still on \(started.webAddress):\(started.webPort)")
        }
        let wasProtected = previous.consolePassword != nil || previous.consoleToken != nil
        if wasProtected != (next.consolePassword != nil || next.consoleToken != nil) {
            logger.warning("reload: setting or removing every console credential takes a restart; a changed password or token applies now")
        }
        settings.withValue { $0 = next }
        ReloadableLevelLogHandler.level.withValue { $0 = next.logLevel }
        for warning in next.warnings { logger.warning("\(warning)") }
        logger.notice("configuration reloaded", metadata: ["accounts": "\(next.accounts.count)"])
    }

    // MARK: - Edits

    func update(_ key: String, to value: String) async throws -> ConsoleConfiguration {
        guard let setting = Self.editable.first(where: { $0.key == key }) else {
            throw ConsoleEditError("\(key) cannot be edited here; editable: "
                + Self.editable.map(\.key).joined(separator: ", "))
        }
        guard let path = settings.value.configPath else {
            throw ConsoleEditError("the server was started without a config.json; there is nothing to edit")
        }
        // Written to the file it would change nothing until the flag goes: said so, not "set".
        if setting.given(flags) {
            throw ConsoleEditError("\(key) is set by \(setting.flag) on the command line, which wins over config.json; "
                + "change it there (the file is unchanged)")
        }
        try await reloading.run { try await BlockingIO.run { try self.write(key, value, into: path) } }
        return await configuration()
    }

    /// Writes `value` for `key` into a copy of config.json, puts the copy in force, and only
    /// then renames it over config.json. Blocking file I/O.
    private func write(_ key: String, _ value: String, into path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
            var root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw ConsoleEditError("\(path) can no longer be read as JSON") }
        // Rewritten, a key given twice would keep the last, where ossftp read the first: an
        // unrelated edit then changed an account's permissions.
        if let duplicate = JSONDuplicateKeyScanner.firstDuplicate(in: [UInt8](data)) {
            throw ConsoleEditError("\(path): line \(duplicate.line): \"\(duplicate.key)\" is given twice in one object; "
                + "keep one by hand (the file is unchanged)")
        }
        var modules = root["modules"] as? [String: Any] ?? [:]
        var server = modules["ossftp"] as? [String: Any] ?? [:]
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        // A number is written as one; anything else is written as text and refused by the
        // same checks as at start, with the field's path.
        server[key] = Int(trimmed).map { $0 as Any } ?? trimmed
        modules["ossftp"] = server
        root["modules"] = modules
        let edited = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        // Written beside the file it replaces (a rename never leaves a half-written file; a
        // config.json that is a link is written where it points, and the link stays a link),
        // with the old file's mode and owner.
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var old = stat()
        guard stat(target, &old) == 0 else {
            throw ConsoleEditError("cannot read \(path): \(String(cString: strerror(errno))) (the file is unchanged)")
        }
        let staged = target + ".console-edit"
        try stage(edited, at: staged, like: old)
        // Checked as a reload reads it: from config.json's own folder, where a link's relative
        // paths (`file:` secrets, certificates) are taken from, not from the folder it points to.
        let checked = target == path ? staged : path + ".console-edit"
        if checked != staged {
            do { try stage(edited, at: checked, like: old) } catch {
                unlink(staged)
                throw error
            }
        }
        defer { if checked != staged { unlink(checked) } }
        let next: ServeSettings
        let authenticator: any Authenticator
        do {
            (next, authenticator) = try validated(configPath: checked)
        } catch let error as ConsoleEditError {
            unlink(staged)
            // Said of config.json, the file the operator knows.
            throw ConsoleEditError(error.message.replacingOccurrences(of: checked, with: path))
        } catch {
            unlink(staged)
            throw error
        }
        // In force only once it is config.json: an edit that cannot be saved changes nothing.
        guard rename(staged, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(staged)
            throw ConsoleEditError("cannot replace \(target): \(reason) (the file and the settings in force are unchanged)")
        }
        var saved = next
        saved.configPath = path
        putInForce(saved, authenticator: authenticator)
    }

    /// Writes `data` to a new file at `path`, with the mode and owner of `old`.
    private func stage(_ data: Data, at path: String, like old: stat) throws {
        let handle = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard handle >= 0 else {
            throw ConsoleEditError("cannot write \(path) beside config.json: \(String(cString: strerror(errno)))")
        }
        var failure: Int32 = 0
        let written = data.withUnsafeBytes { Glibc.write(handle, $0.baseAddress, $0.count) }
        if written != data.count {
            failure = written < 0 ? errno : EIO
        } else if fchown(handle, old.st_uid, old.st_gid) != 0 && geteuid() == 0 {
            // Only root can give the file away; any other user's edit is its own file.
            failure = errno
        } else if fchmod(handle, old.st_mode & 0o7777) != 0 {
            failure = errno
        }
        close(handle)
        guard failure == 0 else {
            unlink(path)
            throw ConsoleEditError("cannot write \(path) beside config.json: \(String(cString: strerror(failure)))")
        }
    }

    // MARK: - Figures

    func status() async -> ConsoleStatus {
        let settings = self.settings.value
        let sessions = server.sessions()
        let formatter = ISO8601DateFormatter()
        return ConsoleStatus(
            version: OSSFTP.version, startedAt: formatter.string(from: startedAt),
            uptimeSeconds: Int(MonotonicTime.now - startedUptime),
            ftpAddress: "\(settings.ftp.host):\(settings.ftp.port)",
            store: settings.provider == .local ? "local \(settings.localRoot)"
                : "\(settings.provider.rawValue) \(settings.endpoint.map { "\($0.scheme)://\($0.authority)" } ?? "")",
            sessions: sessions.count, transfers: sessions.filter { $0.transfer != nil }.count)
    }

    func sessions() async -> [ConsoleSession] {
        server.sessions().map { session in
            ConsoleSession(
                id: session.id, user: session.user, address: session.address, directory: session.directory,
                connectedSeconds: Int(session.connectedSeconds), idleSeconds: Int(session.idleSeconds),
                transfer: session.transfer.map {
                    ConsoleTransfer(direction: $0.direction, path: $0.path, bytes: $0.bytes, size: $0.size,
                                    seconds: $0.seconds)
                })
        }
    }

    func spool() async -> ConsoleSpool {
        let records = (try? await spool.journal?.records()) ?? []
        let pending = records.filter { $0.writeBack && $0.sealed }.map { record in
            let bucket = record.store.bucket
            let parts = record.stored.count + record.pending.count + (record.single == nil ? 0 : 1)
            return ConsolePendingUpload(
                bucket: bucket, key: record.key, size: Int64(record.size), parts: parts,
                partsSent: record.stored.count, state: record.uploadID == nil ? "waiting" : "sending")
        }
        let directory = spool.directory
        let refused = ((try? await BlockingIO.run { RefusedUploadArchive.list(spool: directory) }) ?? []).map { kept in
            ConsoleRefusedUpload(bucket: kept.description.bucket, key: kept.description.key,
                                 size: Int64(kept.description.size), folder: kept.folder,
                                 whole: kept.description.file != nil, error: kept.description.error)
        }
        return ConsoleSpool(usedBytes: await spool.budget.used, peakBytes: await spool.budget.peak,
                            budgetBytes: await spool.budget.limit, writeBack: spool.writeBack, pending: pending,
                            refused: refused)
    }

    func configuration() async -> ConsoleConfiguration {
        let settings = self.settings.value
        let values: [String: String] = [
            "max_connections": "\(settings.limits.maxConnections)",
            "max_connections_per_ip": "\(settings.limits.maxConnectionsPerAddress)",
            "idle_timeout": "\(settings.ftp.idleTimeout.components.seconds)",
            "ban_threshold": "\(settings.limits.banThreshold)",
            "shutdown_grace_seconds": "\(settings.ftp.shutdownGrace.components.seconds)",
            "log_level": ServeSettings.levelName(settings.logLevel),
        ]
        var masked = "(started without a config.json)"
        if let path = settings.configPath {
            if let data = try? await BlockingIO.run({ FileManager.default.contents(atPath: path) }) {
                masked = ConfigMasking.masked(data)
                    ?? "(\(path) is not valid JSON\(JSONSyntaxLocator.firstFault(in: [UInt8](data)).map { ": \($0)" } ?? ""))"
            } else {
                masked = "(\(path) cannot be read now: the settings shown are those in force)"
            }
        }
        return ConsoleConfiguration(
            path: settings.configPath, masked: masked,
            settings: Self.editable.map { ConsoleSetting(key: $0.key, value: values[$0.key] ?? "", help: $0.help) })
    }

    func metrics() -> String {
        var buffer: [UInt8] = []
        metricsRegistry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Runs async jobs one after another.
actor AsyncSerializer {
    private var tail: Task<Void, Never>?

    func run<T: Sendable>(_ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tail
        let task = Task { () async throws -> T in
            await previous?.value
            return try await job()
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }
}

/// Runs async jobs one after another for each key (a peer's address), different keys at once.
actor KeyedSerializer {
    private var lanes: [String: (serializer: AsyncSerializer, pending: Int)] = [:]

    func run<T: Sendable>(_ key: String, _ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let lane = lanes[key]?.serializer ?? AsyncSerializer()
        lanes[key] = (lane, (lanes[key]?.pending ?? 0) + 1)
        // A key's lane goes once its last job is done: addresses seen once are not kept.
        defer {
            if let entry = lanes[key] { lanes[key] = entry.pending > 1 ? (entry.serializer, entry.pending - 1) : nil }
        }
        return try await lane.run(job)
    }
}
