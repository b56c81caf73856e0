import ArgumentParser
import Console
import Dispatch
import FTPFrontend
import Foundation
import Logging
import Metrics
import OSSVFS
import Prometheus

/// `ossftp serve`: the FTP server. Flags keep the seed tool's spelling.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve object storage over FTP (the default command).")

    @Option(help: "config.json to read (default: ./config.json when present).")
    var config: String?

    @Option(name: .customLong("listen_address"), help: "Address of the FTP listener (default 127.0.0.1).")
    var listenAddress: String?

    // Number options take the next argument whatever it starts with: `--port -1` or
    // `--idle_timeout -1` is then said to be out of range, not a missing value.
    @Option(parsing: .unconditional, help: "Port of the FTP listener (default 2048).")
    var port: Int?

    @Option(name: .customLong("passive_ports_start"), parsing: .unconditional, help: "First passive data port (default 51000).")
    var passivePortsStart: Int?

    @Option(name: .customLong("passive_ports_end"), parsing: .unconditional, help: "Last passive data port, included (default 53000).")
    var passivePortsEnd: Int?

    @Option(name: .customLong("masquerade_address"), help: "Address announced in PASV replies (NAT, containers).")
    var masqueradeAddress: String?

    @Option(help: "Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO).")
    var loglevel: String?

    @Option(name: .customLong("internal"), help: "OSS: use the internal endpoint (true), the public one (false), or probe (unset).")
    var internalEndpoint: String?

    @Option(name: .customLong("bucket_endpoints"), help: "OSS: bucket.endpoint pairs, comma-separated.")
    var bucketEndpoints: String?

    @Option(help: "Storage provider: local, oss or s3 (default local).")
    var provider: String?

    @OptionGroup var store: StoreOptions

    @Option(help: "Rename: refuse (default), copy (copy then delete) or native (the store's atomic rename).")
    var rename: String?

    @Option(name: .customLong("cache_ttl"), parsing: .unconditional, help: "Seconds a looked-up name is trusted (default 5; 0 turns the cache off).")
    var cacheTTL: Double?

    @Flag(name: .customLong("write_back"), help: "Report uploads done once synced in the spool; send them in the background.")
    var writeBack = false

    @Flag(name: .customLong("exact_times"),
          help: "Listings (LIST, MLSD) show each file's own time, set by MFMT or another tool, asked of the store per file; by default they show the store's Last-Modified.")
    var exactTimes = false

    @Option(name: .customLong("spool_budget_mb"), parsing: .unconditional, help: "Disk the spool may use at once, in MiB (default 1024).")
    var spoolBudgetMB: Int?

    @Option(name: .customLong("part_size_mb"), parsing: .unconditional, help: "Size of upload parts in MiB (default 16).")
    var partSizeMB: Int?

    @Option(name: .customLong("upload_concurrency"), parsing: .unconditional, help: "Parts of one upload sent at once (default 4).")
    var uploadConcurrency: Int?

    @Option(name: .customLong("read_ahead_mb"), parsing: .unconditional, help: "Largest ranged GET of a download, in MiB (default 64).")
    var readAheadMB: Int?

    @Option(name: .customLong("read_ahead_ranges"), parsing: .unconditional, help: "Ranged GETs a download runs ahead at once (default 2).")
    var readAheadRanges: Int?

    @Option(name: .customLong("max_connections"), parsing: .unconditional, help: "Control connections at once (default 512).")
    var maxConnections: Int?

    @Option(name: .customLong("max_connections_per_ip"), parsing: .unconditional, help: "Control connections from one address (default 32).")
    var maxConnectionsPerIP: Int?

    @Option(name: .customLong("idle_timeout"), parsing: .unconditional, help: "Seconds an idle control connection is kept (default 300).")
    var idleTimeout: Int?

    @Option(name: .customLong("data_connection_timeout"),
            help: "Seconds a passive port waits for its client, or an active connection is tried (default 30).")
    var dataConnectionTimeout: Int?

    @Option(name: .customLong("data_receive_buffer_kb"),
            help: "Kernel receive buffer of each data connection in KiB; 0 leaves it to the kernel's autotuning, for long fat links (default 2048 where net.core.rmem_max allows it, else 0).")
    var dataReceiveBufferKB: Int?

    @Option(name: .customLong("transfer_stall_timeout"),
            help: "Seconds a transfer may move nothing before it is aborted (426; an upload is not stored) (default 300).")
    var transferStallTimeout: Int?

    @Option(name: .customLong("shutdown_grace"),
            help: "On SIGTERM or SIGINT, seconds transfers in progress may take to finish before they are aborted (default 30).")
    var shutdownGrace: Int?

    @Option(name: .customLong("ban_threshold"), parsing: .unconditional, help: "Failed logins from one address in 10 minutes that ban it (default 10; 0: no bans).")
    var banThreshold: Int?

    @Option(name: .customLong("tls_certificate"), help: "PEM certificate chain for FTPS (AUTH TLS).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls_key"), help: "PEM private key of the FTPS certificate.")
    var tlsKey: String?

    @Option(name: .customLong("implicit_tls_port"), parsing: .unconditional, help: "Port of an implicit FTPS listener (TLS from the first byte).")
    var implicitTLSPort: Int?

    @Option(name: .customLong("local_root"), help: "Folder of the local provider; each bucket is a folder in it.")
    var localRoot: String?

    @Flag(name: .customLong("local_no_fsync"),
          help: "Local provider: do not fsync an upload before 226 (visible and atomic, but lost if the machine fails).")
    var localNoFsync = false

    @Option(name: .customLong("spool_dir"), help: "Folder where uploads are staged.")
    var spoolDir: String?

    @Option(name: .customLong("web_port"), parsing: .unconditional, help: "Port of the web console and /metrics; 0 turns it off (default 8192).")
    var webPort: Int?

    @Option(name: .customLong("web_address"),
            help: "Address of the web console (default 127.0.0.1); beyond loopback only with a console password or token.")
    var webAddress: String?

    func run() async throws {
        MallocTuning.apply()
        let openFiles = OpenFilesLimit.raise()
        let settings: ServeSettings
        do {
            settings = try ServeSettings(flags: self)
            try SpoolFolder.prepare(settings.spoolDirectory)
            try SpoolFolder.claimForServe(settings.spoolDirectory)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("ossftp: invalid configuration: \(error.description)\n".utf8))
            throw ExitCode(Self.configurationExitCode)
        }
        let logBuffer = ConsoleLogBuffer()
        ReloadableLevelLogHandler.level.withValue { $0 = settings.logLevel }
        LoggingSystem.bootstrap({ label, metadataProvider in
            var stderr = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
            stderr.logLevel = .trace
            return ReloadableLevelLogHandler(inner: MultiplexLogHandler([
                stderr,
                ConsoleLogHandler(buffer: logBuffer, level: .trace, metadataProvider: metadataProvider),
            ]))
        }, metadataProvider: LogContext.metadataProvider)
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let logger = Logger(label: "ossftp")
        for warning in settings.warnings { logger.warning("\(warning)") }
        if let warning = OpenFilesLimit.shortfall(openFiles, connections: settings.limits.maxConnections) {
            logger.warning("\(warning)")
        }
        if let warning = SpoolFolder.roomWarning(settings.spoolDirectory, budget: settings.spoolBudget) {
            logger.warning("\(warning)")
        }
        let spool = settings.makeSpool()
        let limiter = ConnectionLimiter(limits: settings.limits)
        let server = FTPServer(
            configuration: settings.ftp, authenticator: try settings.makeAuthenticator(spool: spool, logger: logger),
            limiter: limiter, logger: logger)
        let runtime = ServeRuntime(flags: self, settings: settings, server: server, limiter: limiter, spool: spool,
                                   metricsRegistry: metrics, logger: logger)
        if let journal = spool.journal {
            // What a previous run left: finish write-back uploads, drop the rest; known before
            // the first upload of this run, which comes after them.
            let records = await UploadRecovery.prepare(journal: journal)
            Task {
                let counts = await UploadRecovery.recover(records, journal: journal, transport: settings.transport) {
                    logger.notice("\($0)")
                }
                if counts.finished + counts.dropped + counts.failed > 0 {
                    logger.notice("upload journal: \(counts.finished) finished, \(counts.dropped) dropped, \(counts.failed) kept")
                }
            }
        }
        let serving = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                if settings.webPort != 0 {
                    let console = Self.console(settings: settings, source: runtime, log: logBuffer, logger: logger)
                    group.addTask {
                        do {
                            try await console.run { logger.info("web console listening on \(ListenFailure.endpoint(settings.webAddress, $0))") }
                        } catch is CancellationError {
                        } catch {
                            throw ListenFailure(error, listener: "web console", host: settings.webAddress, port: settings.webPort)
                                ?? ConsoleStartError(description: "web console on \(settings.webAddress):\(settings.webPort): \(error)")
                        }
                    }
                }
                // The FTP server ends on cancellation only; the console may fail to start.
                defer { group.cancelAll() }
                try await group.next()
            }
        }
        let signals = Self.onTermination { serving.cancel() }
        let reload = Self.onSignal(SIGHUP) {
            Task {
                do {
                    try await runtime.reload()
                } catch let error as ConsoleEditError {
                    logger.error("reload refused; the previous configuration stays: \(error.message)")
                }
            }
        }
        defer { (signals + reload).forEach { $0.cancel() } }
        do {
            try await serving.value
        } catch is CancellationError {
        } catch let failure as ListenFailure {
            logger.critical("cannot serve: \(failure); \(Self.remedy(for: failure))")
            throw ExitCode(1)
        } catch {
            logger.critical("cannot serve: \(error)")
            throw ExitCode(1)
        }
        logger.info("stopped")
    }

    /// The exit status for a bad config.json or flag value (sysexits' EX_CONFIG); a bad flag
    /// name or syntax is 64 (EX_USAGE), and a server that cannot start (a port in use) 1.
    static let configurationExitCode: Int32 = 78

    /// Calls `stop` on SIGINT or SIGTERM.
    static func onTermination(_ stop: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        onSignal(SIGINT, SIGTERM, handler: stop)
    }

    /// Calls `handler` on each of `numbers`, which no longer end the process.
    static func onSignal(_ numbers: Int32..., handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// The web console with the access config.json gives it.
    static func console(settings: ServeSettings, source: ServeRuntime, log: ConsoleLogBuffer, logger: Logger)
        -> ConsoleServer
    {
        // One password check at a time from each address, a wrong one holding that address's
        // next for a second: guesses sent in parallel get no faster than one a second, and ten
        // wrong ones ban the address. One queue for all let guesses from a few addresses hold
        // the administrator's right password for as long as they went on.
        let attempts = KeyedSerializer()
        // Looked up at each use: a reload that rotates the password or token applies at once.
        let access = ConsoleAccess { [source] in
            let settings = source.currentSettings
            let verifier = settings.consolePassword
            return ConsoleAccess.Credentials(
                verifyPassword: verifier.map { verifier in
                    { @Sendable password, peer in
                        // One queue per client: an address, or an IPv6 client's /64.
                        (try? await attempts.run(IPLiteral.clientKey(peer)) {
                            let right = try await BlockingIO.run { verifier.verify(password) }
                            if !right { try? await Task.sleep(for: .seconds(1)) }
                            return right
                        }) ?? false
                    }
                },
                token: settings.consoleToken,
                stamp: "\(verifier?.storedForm ?? "")\u{0}\(settings.consoleToken ?? "")")
        }
        return ConsoleServer(host: settings.webAddress, port: settings.webPort, source: source, access: access,
                             log: log, logger: logger, clientKey: { IPLiteral.clientKey($0) })
    }
}

/// The console could not start (its port in use, say).
extension ServeCommand {
    /// The setting that moves a listener that could not start.
    static func remedy(for failure: ListenFailure) -> String {
        switch failure.listener {
        case "web console":
            return "choose another port with --web_port (control_port in config.json's launcher), or 0 to turn the console off"
        case "implicit FTPS":
            return "choose another port with --implicit_tls_port (implicit_tls_port in config.json)"
        default:
            return failure.errno == EADDRNOTAVAIL
                ? "choose another address with --listen_address (address in config.json)"
                : "choose another port with --port (port in config.json)"
        }
    }
}

struct ConsoleStartError: Error, CustomStringConvertible {
    var description: String
}
