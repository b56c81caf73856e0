import Console
import FTPFrontend
import Foundation
import Logging
import OSSVFS

/// What `ossftp serve` runs with: flags over config.json over defaults, validated.
struct ServeSettings {
    enum Provider: String {
        case local, oss, s3
    }

    var ftp = FTPServerConfiguration()
    var logLevel = Logger.Level.info
    var provider = Provider.local
    var localRoot: String
    var spoolDirectory: String
    var webPort = 8192
    var webAddress = "127.0.0.1"
    /// The console's password, and its API token; neither set means a read-only console.
    var consolePassword: PasswordVerifier?
    var consoleToken: String?
    /// The config.json read, if any: what SIGHUP rereads and the console edits.
    var configPath: String?
    var endpoint: StoreEndpoint?
    var region: String?
    var pathStyle: Bool?
    var s3Checksum = StoreDialect.BodyChecksum.crc32c
    var useInternalEndpoint: Bool?
    var bucketEndpoints: [String: String] = [:]
    var renamePolicy = RenamePolicy.refuse
    var hierarchicalNamespace = false
    var cacheTTL: Double = 5
    var writeBack = false
    /// Listings show each file's own time, asked of the store per file.
    var exactTimes = false
    /// Local provider: fsync each object before it is reported stored.
    var localFsync = true
    var spoolBudget: Int64 = 1 << 30
    var partSize = 16 << 20
    var uploadConcurrency = 4
    var readAhead = ReadAheadConfiguration()
    var limits = ConnectionLimiter.Limits()
    /// The longest time a setting may name, in seconds: a year.
    static let longestSeconds = 365 * 86_400
    /// The largest size in MiB (a pebibyte), so that bytes stay well within 64 bits.
    static let largestMB = 1 << 30

    /// `path` taken from `folder` unless absolute: the config file's folder for paths in the
    /// file, the working directory for flags.
    static func absolute(_ path: String, from folder: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: folder + "/"))
            .standardizedFileURL.path
    }

    /// One HTTP transport for the process, kept across reloads: its worker threads keep the
    /// connections.
    var transport: CurlTransport { Self.sharedTransport }
    private static let sharedTransport = CurlTransport()
    var accounts: [ConfigFile.Account] = []
    /// Per account (same order): permissions, resolved store credentials, and its store.
    var accountPermissions: [AccountPermissions] = []
    var accountCredentials: [StoreCredentials] = []
    var accountStores: [AccountStore] = []

    /// Where an account's bucket lives: its own provider, endpoint, region and addressing,
    /// each falling back to the server's.
    struct AccountStore {
        var provider: Provider
        var endpoint: StoreEndpoint?
        var region: String?
        var pathStyle: Bool?
    }
    /// Things worth telling the operator at start.
    var warnings: [String] = []

    init(flags: ServeCommand) throws {
        let cwd = FileManager.default.currentDirectoryPath
        var configPath = flags.config
        if configPath == nil && FileManager.default.fileExists(atPath: "config.json") { configPath = "config.json" }
        let file = try configPath.map(ConfigFile.load)
        // Any user who can write it can add accounts or point local_root at /, applied at the
        // next SIGHUP: refused, as sshd refuses such files.
        if let configPath { try Self.refuseWorldAccess(configPath, what: "the config file") }
        if let configPath, let file, Self.holdsSecretsInline(file) {
            var status = stat()
            if stat(configPath, &status) == 0, status.st_mode & S_IROTH != 0 {
                warnings.append("\(configPath) holds secrets (an access_secret, a plaintext password or the console's token) and is readable by every user; chmod 600 \(configPath), or give them as env: or file:")
            }
        }
        for key in file?.unknownKeys ?? [] {
            warnings.append("\(configPath ?? "config.json"): \(key) is not a setting of ossftp and is ignored (misspelt?)")
        }
        try ConfigFile.checkSeedKeys(file, path: configPath ?? "config.json", warnings: &warnings)
        let configFolder = configPath.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: cwd)) }
            .map { $0.deletingLastPathComponent().path } ?? cwd
        let server = file?.modules.ossftp
        let source = configPath ?? "flags"
        // Where a checked value came from: a flag wins over the file, and a message that named
        // config.json for a flag's value sent the reader to the wrong place.
        func from(_ flagGiven: Bool) -> String { flagGiven ? "the command line" : source }
        // One setting out of its range, named alone with its value (a message that listed three
        // settings and their ranges left the reader to find which one was wrong).
        // `flag` names the setting's flag where it is not `key`.
        func require(_ key: String, _ value: Int, in range: ClosedRange<Int>, fromFlag: Bool, flag: String? = nil,
                     unit: String = "") throws {
            guard !range.contains(value) else { return }
            let upper = range.upperBound == Self.longestSeconds && unit == " seconds" ? "\(range.upperBound) seconds (a year)"
                : range.upperBound == Int.max ? "any larger number" : "\(range.upperBound)\(unit)"
            let setting = fromFlag ? "the command line: --\(flag ?? key)" : "\(source): modules.ossftp.\(key)"
            throw ConfigError("\(setting) is \(value); it must be \(range.lowerBound) to \(upper)")
        }
        self.configPath = configPath

        ftp.host = flags.listenAddress ?? server?.address ?? "127.0.0.1"
        // Checked here, so that `config check` says what serve would (it stopped with exit 1
        // and "UnknownHost" for an empty or misspelt address).
        guard IPLiteral.isAddress(ftp.host) || ftp.host == "localhost" else {
            throw ConfigError("\(flags.listenAddress != nil ? "the command line: --listen_address" : "\(source): modules.ossftp.address") \"\(ftp.host)\" is not an IP address (like 127.0.0.1, 0.0.0.0 or ::)")
        }
        ftp.port = flags.port ?? server?.port?.value ?? 2048
        let start = flags.passivePortsStart ?? server?.passive_ports_start?.value ?? 51000
        let end = flags.passivePortsEnd ?? server?.passive_ports_end?.value ?? 53000
        guard 1 <= start, start <= end, end <= 65535 else {
            throw ConfigError("\(from(flags.passivePortsStart != nil || flags.passivePortsEnd != nil)): passive ports \(start) to \(end): need 1 <= passive_ports_start <= passive_ports_end <= 65535")
        }
        guard (0...65535).contains(ftp.port) else {
            throw ConfigError("\(from(flags.port != nil)): \(flags.port != nil ? "port" : "modules.ossftp.port") \(ftp.port) is out of range (0 to 65535)")
        }
        ftp.passivePorts = start...end
        let masquerade = flags.masqueradeAddress ?? server?.masquerade_address ?? ""
        ftp.masqueradeAddress = masquerade.isEmpty ? nil : masquerade
        if let masquerade = ftp.masqueradeAddress {
            // As PASV announces it: four decimal numbers, no leading zeros (`010` reads as octal to
            // some clients), and an address a client can reach (not 0.0.0.0).
            let octets = masquerade.split(separator: ".", omittingEmptySubsequences: false)
            // Nor one in 0.0.0.0/8, multicast or the broadcast address (224.0.0.0 and up).
            guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil && ($0 == "0" || !$0.hasPrefix("0")) }),
                let first = UInt8(octets[0]), first != 0, first < 224
            else {
                throw ConfigError("\(from(flags.masqueradeAddress != nil)): masquerade_address must be an IPv4 address a client can reach, like 203.0.113.7, got \(masquerade)")
            }
        }

        let levelName = (flags.loglevel ?? server?.log_level ?? "INFO").uppercased()
        switch levelName {
        case "DEBUG": logLevel = .debug
        case "INFO": logLevel = .info
        case "WARNING", "WARN": logLevel = .warning
        case "ERROR": logLevel = .error
        case "CRITICAL": logLevel = .critical
        default:
            let setting = flags.loglevel != nil ? "--loglevel" : "modules.ossftp.log_level"
            throw ConfigError("\(from(flags.loglevel != nil)): \(setting) must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got \(levelName)")
        }

        var providerName = flags.provider ?? server?.provider ?? ""
        if providerName.isEmpty {
            // The seed tool served OSS and nothing else, and its config.json and flags name no
            // provider: taken as the local default, its default file started and then refused
            // every login. What only OSS uses says which store was meant.
            if let mark = Self.seedOSSSetting(bucketEndpointsFlag: flags.bucketEndpoints, internalFlag: flags.internalEndpoint,
                                              server: server, accounts: file?.modules.accounts ?? []) {
                providerName = "oss"
                warnings.append(Self.seedOSSWarning(mark))
            } else {
                providerName = "local"
            }
        }
        guard let provider = Provider(rawValue: providerName.lowercased()) else {
            throw ConfigError("\(from(flags.provider != nil)): provider must be local, oss or s3, got \(providerName)")
        }
        self.provider = provider
        let endpointText = flags.store.endpoint ?? server?.endpoint ?? ""
        if !endpointText.isEmpty {
            do { endpoint = try StoreEndpoint(endpointText) } catch {
                throw ConfigError("\(source): endpoint: \(error)")
            }
        }
        if provider == .s3 && endpoint == nil {
            throw ConfigError("\(source): the s3 provider needs --endpoint (or modules.ossftp.endpoint)")
        }
        region = flags.store.region ?? server?.region
        do {
            pathStyle = try StoreOptions.pathStyle(flags.store.addressing ?? server?.addressing)
            s3Checksum = try StoreOptions.s3Checksum(flags.store.s3Checksum ?? server?.s3_checksum)
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        if let text = flags.internalEndpoint {
            switch text.lowercased() {
            case "true": useInternalEndpoint = true
            case "false": useInternalEndpoint = false
            case "", "none": useInternalEndpoint = nil
            default: throw ConfigError("--internal must be true or false, got \(text)")
            }
        } else {
            useInternalEndpoint = server?.internal?.value
        }
        do {
            bucketEndpoints = try StoreFactory.parseBucketEndpoints(flags.bucketEndpoints ?? server?.bucket_endpoints ?? "")
        } catch {
            throw ConfigError("\(from(flags.bucketEndpoints != nil)): \(error)")
        }

        let maxObjects = server?.rename_max_objects?.value ?? 1000
        guard maxObjects > 0 else { throw ConfigError("\(source): rename_max_objects must be positive") }
        switch (flags.rename ?? server?.rename ?? "refuse").lowercased() {
        case "refuse", "off", "": renamePolicy = .refuse
        case "copy": renamePolicy = .copy(maxDirectoryObjects: maxObjects)
        case "native": renamePolicy = .native
        case let other: throw ConfigError("\(from(flags.rename != nil)): rename must be refuse, copy or native, got \(other)")
        }
        hierarchicalNamespace = server?.hierarchical_namespace?.value ?? false
        writeBack = flags.writeBack || (server?.write_back?.value ?? false)
        exactTimes = flags.exactTimes || (server?.exact_times?.value ?? false)
        localFsync = !flags.localNoFsync && (server?.local_fsync?.value ?? true)
        let budgetMB = flags.spoolBudgetMB ?? server?.spool_budget_mb?.value ?? 1024
        let partMB = flags.partSizeMB ?? server?.part_size_mb?.value ?? SpoolConfiguration.defaultPartSize >> 20
        uploadConcurrency = flags.uploadConcurrency ?? server?.upload_concurrency?.value ?? 4
        try require("spool_budget_mb", budgetMB, in: 1...Self.largestMB, fromFlag: flags.spoolBudgetMB != nil)
        try require("part_size_mb", partMB, in: 1...5120, fromFlag: flags.partSizeMB != nil)
        try require("upload_concurrency", uploadConcurrency, in: 1...1024, fromFlag: flags.uploadConcurrency != nil)
        guard budgetMB >= partMB * 2 else {
            throw ConfigError("\(from(flags.spoolBudgetMB != nil || flags.partSizeMB != nil)): spool_budget_mb (\(budgetMB)) must hold at least two parts of part_size_mb (\(partMB))")
        }
        spoolBudget = Int64(budgetMB) << 20
        let readAheadMB = flags.readAheadMB ?? server?.read_ahead_mb?.value ?? 64
        let ranges = flags.readAheadRanges ?? server?.read_ahead_ranges?.value ?? 2
        try require("read_ahead_mb", readAheadMB, in: 1...4096, fromFlag: flags.readAheadMB != nil)
        try require("read_ahead_ranges", ranges, in: 1...64, fromFlag: flags.readAheadRanges != nil)
        readAhead = ReadAheadConfiguration(maxWindow: readAheadMB << 20, parallelRanges: ranges)
        limits.maxConnections = flags.maxConnections ?? server?.max_connections?.value ?? 512
        limits.maxConnectionsPerAddress = flags.maxConnectionsPerIP ?? server?.max_connections_per_ip?.value ?? 32
        limits.banThreshold = flags.banThreshold ?? server?.ban_threshold?.value ?? 10
        let banSeconds = server?.ban_seconds?.value ?? 600
        limits.banDuration = Double(banSeconds)
        let idle = flags.idleTimeout ?? server?.idle_timeout?.value ?? 300
        // ban_threshold 0 turns bans off (a server only its own machine's users reach, where
        // one mistyped script would otherwise lock everyone on 127.0.0.1 out).
        try require("max_connections", limits.maxConnections, in: 1...Int.max, fromFlag: flags.maxConnections != nil)
        try require("max_connections_per_ip", limits.maxConnectionsPerAddress, in: 1...Int.max, fromFlag: flags.maxConnectionsPerIP != nil)
        if limits.banThreshold < 0 {
            let setting = flags.banThreshold != nil ? "the command line: --ban_threshold" : "\(source): modules.ossftp.ban_threshold"
            throw ConfigError("\(setting) is \(limits.banThreshold); it must be 0 (no bans) or more")
        }
        // Times become nanoseconds in 64 bits: a value past a few centuries overflowed and
        // stopped the server at the first use, after it had started.
        // A ban of 0 s would turn the ban off without a word (ban_threshold is how to tune it).
        try require("idle_timeout", idle, in: 1...Self.longestSeconds, fromFlag: flags.idleTimeout != nil, unit: " seconds")
        try require("ban_seconds", banSeconds, in: 1...Self.longestSeconds, fromFlag: false, unit: " seconds")
        ftp.idleTimeout = .seconds(idle)
        let dataWait = flags.dataConnectionTimeout ?? server?.data_connection_timeout?.value ?? 30
        let stall = flags.transferStallTimeout ?? server?.transfer_stall_timeout?.value ?? 300
        try require("data_connection_timeout", dataWait, in: 1...Self.longestSeconds, fromFlag: flags.dataConnectionTimeout != nil, unit: " seconds")
        try require("transfer_stall_timeout", stall, in: 1...Self.longestSeconds, fromFlag: flags.transferStallTimeout != nil, unit: " seconds")
        ftp.dataConnectionTimeout = .seconds(dataWait)
        ftp.stallTimeout = .seconds(stall)
        if let kilobytes = flags.dataReceiveBufferKB ?? server?.data_receive_buffer_kb?.value {
            // Linux caps SO_RCVBUF at net.core.rmem_max; a larger value is not an error there.
            guard (0...1 << 20).contains(kilobytes) else {
                throw ConfigError("\(from(flags.dataReceiveBufferKB != nil)): data_receive_buffer_kb must be 0 (the kernel's autotuning) to 1048576")
            }
            ftp.dataReceiveBuffer = kilobytes == 0 ? nil : kilobytes << 10
        }
        let grace = flags.shutdownGrace ?? server?.shutdown_grace_seconds?.value ?? 30
        try require("shutdown_grace_seconds", grace, in: 0...Self.longestSeconds, fromFlag: flags.shutdownGrace != nil, flag: "shutdown_grace", unit: " seconds")
        ftp.shutdownGrace = .seconds(grace)
        // An empty value, as templates leave unset keys, is no file: it was read as the config
        // folder, and refused as "no start line" in a folder never named.
        let certificate = flags.tlsCertificate.map { Self.absolute($0, from: cwd) }
            ?? server?.tls_certificate.flatMap { $0.isEmpty ? nil : Self.absolute($0, from: configFolder) }
        let key = flags.tlsKey.map { Self.absolute($0, from: cwd) }
            ?? server?.tls_key.flatMap { $0.isEmpty ? nil : Self.absolute($0, from: configFolder) }
        switch (certificate, key) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            try Self.refuseWorldAccess(certificate, what: "tls_certificate")
            try Self.refuseWorldAccess(key, what: "tls_key")
            // Readable by all is common where keys are mounted (Docker secrets are 0444): said,
            // not refused.
            var keyStatus = stat()
            if stat(key, &keyStatus) == 0, keyStatus.st_mode & S_IROTH != 0 {
                warnings.append("\(source): tls_key \(key) is readable by every user; chmod o-r \(key) unless that is intended")
            }
            do {
                ftp.tls = try TLSServerContext(certificatePath: certificate, keyPath: key)
            } catch {
                throw ConfigError("\(source): tls: \(error)")
            }
            if let problem = ftp.tls?.certificateWarning(now: time(nil)) {
                warnings.append("\(source): tls_certificate \(certificate) \(problem)")
            }
            // Clients refuse a certificate message over 100 KiB (OpenSSL's max_cert_list); in
            // PEM that is about 133 KiB.
            var certificateStatus = stat()
            if stat(certificate, &certificateStatus) == 0, certificateStatus.st_size > 133 << 10 {
                warnings.append("\(source): tls_certificate \(certificate) holds \(certificateStatus.st_size >> 10) KiB of certificates; "
                    + "clients refuse a chain of more than about 100 KiB (OpenSSL's limit): keep the server's certificate and its intermediates")
            }
        default:
            throw ConfigError("\(source): FTPS needs both tls_certificate and tls_key")
        }
        ftp.requireTLSForLogin = server?.tls_require_login?.value ?? false
        ftp.requireTLSForData = server?.tls_require_data?.value ?? false
        ftp.requireTLSSessionReuse = server?.tls_require_reuse?.value ?? false
        ftp.implicitTLSPort = flags.implicitTLSPort ?? server?.implicit_tls_port?.value
        if (ftp.requireTLSForLogin || ftp.requireTLSForData || ftp.implicitTLSPort != nil) && ftp.tls == nil {
            throw ConfigError("\(source): TLS requirements and implicit_tls_port need tls_certificate and tls_key")
        }
        partSize = partMB << 20
        cacheTTL = flags.cacheTTL ?? server?.cache_ttl?.value ?? 5
        guard (0...Double(Self.longestSeconds)).contains(cacheTTL) else {
            throw ConfigError("\(from(flags.cacheTTL != nil)): cache_ttl must be 0 to \(Self.longestSeconds) seconds")
        }

        localRoot = flags.localRoot.map { Self.absolute($0, from: cwd) }
            ?? server?.local_root.map { Self.absolute($0, from: configFolder) } ?? Self.absolute("data/local", from: cwd)
        spoolDirectory = flags.spoolDir.map { Self.absolute($0, from: cwd) }
            ?? server?.spool_dir.map { Self.absolute($0, from: configFolder) }
            ?? NSTemporaryDirectory() + "ossftp-spool-\(getuid())"
        let launcher = file?.modules.launcher
        webPort = flags.webPort ?? launcher?.control_port?.value ?? 8192
        guard (0...65535).contains(webPort) else {
            throw ConfigError(flags.webPort != nil ? "the command line: --web_port \(webPort) is out of range (0 to 65535)"
                : "\(source): modules.launcher.control_port \(webPort) is out of range (0 to 65535)")
        }
        webAddress = flags.webAddress ?? launcher?.address ?? "127.0.0.1"
        // An address, as for the FTP listener: a name is resolved as the console starts, after
        // the FTP listener, and may resolve anywhere.
        guard webPort == 0 || IPLiteral.isAddress(webAddress) || webAddress == "localhost" else {
            let setting = flags.webAddress != nil ? "the command line: --web_address" : "\(source): modules.launcher.address"
            let hint = webAddress.hasPrefix("[") && webAddress.hasSuffix("]") ? " (drop the brackets)" : " (like 127.0.0.1, ::1 or 0.0.0.0)"
            throw ConfigError("\(setting) \"\(webAddress)\" is not an IP address\(hint)")
        }
        if webPort != 0, webPort == ftp.port {
            throw ConfigError("\(from(flags.webPort != nil || flags.port != nil)): the console's port (modules.launcher.control_port) and the FTP port are both \(webPort)")
        }
        if let implicit = ftp.implicitTLSPort, implicit != 0 {
            // Said as what it is: the second bind failed as "in use by another program".
            let other = implicit == ftp.port ? "the FTP port" : implicit == webPort ? "the console's port" : nil
            if let other {
                throw ConfigError("\(from(flags.implicitTLSPort != nil)): implicit_tls_port and \(other) are both \(implicit)")
            }
        }
        // A passive range of nothing but ossftp's own listening ports: every PASV would find its
        // port taken (425). In a larger range they are skipped as any port in use is.
        let own = Set([ftp.port, webPort, ftp.implicitTLSPort ?? 0].filter { $0 != 0 })
        if ftp.passivePorts.count <= own.count, ftp.passivePorts.allSatisfy(own.contains) {
            throw ConfigError("\(from(flags.passivePortsStart != nil || flags.passivePortsEnd != nil)): passive ports \(ftp.passivePorts.lowerBound) to \(ftp.passivePorts.upperBound) are all ossftp's own listening ports (FTP, FTPS or console)")
        }
        if let password = launcher?.password, !password.isEmpty {
            if let reason = PasswordVerifier.malformedHash(password) {
                throw ConfigError("\(source): modules.launcher.password is not a usable hash: \(reason) (make one with ossftp passwd)")
            }
            let verifier = PasswordVerifier(stored: password)
            if verifier.isPlaintext {
                // Not the hash itself: the log is readable on the console, and a hash of the
                // password is as good as the password to an offline guesser.
                warnings.append("\(source): modules.launcher.password is plaintext; replace it with the output of ossftp passwd")
            }
            consolePassword = verifier
        }
        if let token = launcher?.token, !token.isEmpty {
            let value = try Self.secret(token, field: "\(source): modules.launcher.token", relativeTo: configFolder)
            // A token of spaces is refused by every request (headers are trimmed), and a short
            // one is guessed: the token is not slowed down or locked out as passwords are.
            if value.allSatisfy(\.isWhitespace) {
                throw ConfigError("\(source): modules.launcher.token is blank; no request could carry it")
            }
            if value.count < 16 {
                warnings.append("\(source): modules.launcher.token has \(value.count) characters; give it at least 16 (openssl rand -hex 16), since tokens are not slowed down after a wrong one")
            }
            consoleToken = value
        }
        if webPort != 0 && !ConsoleServer.isLoopback(webAddress) && consolePassword == nil && consoleToken == nil {
            throw ConfigError(
                "\(flags.webAddress != nil ? "the command line: --web_address" : "\(source): modules.launcher.address"): the console listens on \(webAddress), beyond loopback, only "
                    + "with modules.launcher.password or modules.launcher.token set")
        }

        var firstIndex: [String: Int] = [:]
        for (index, account) in (file?.modules.accounts ?? []).enumerated() {
            let name = account.login_username ?? ""
            let field = "\(source): modules.accounts[\(index)]"
            if name.isEmpty {
                // An empty entry is the seed page's blank row; one with anything in it was meant.
                if account.login_password?.isEmpty == false || account.bucket_name?.isEmpty == false {
                    warnings.append("\(field) has no login_username, so no one can log in with it; it is ignored")
                }
                continue
            }
            // Two entries of one name: one would be ignored, and which one the admin meant (a
            // read-only one added below a full one) cannot be told.
            if let first = firstIndex[name] {
                // The same entry twice (a paste): nothing to choose between.
                if file?.modules.accounts?[first] == account {
                    warnings.append("\(field) repeats modules.accounts[\(first)] (\(name)) as it is; it is ignored")
                    continue
                }
                throw ConfigError("\(field) has the login_username \(name) of modules.accounts[\(first)] with other settings: one name, one account")
            }
            if let other = firstIndex.first(where: { $0.key.lowercased() == name.lowercased() }) {
                warnings.append("\(field) has the login_username \(name), and modules.accounts[\(other.value)] \(other.key): they are two accounts, as user names are compared exactly")
            }
            if name.first?.isWhitespace == true || name.last?.isWhitespace == true {
                warnings.append("\(field) has spaces at the start or end of its login_username '\(name)': they are part of the name")
            }
            firstIndex[name] = index
            guard let password = account.login_password, !password.isEmpty else {
                throw ConfigError("\(field).login_password is missing for \(name)")
            }
            guard let bucket = account.bucket_name, !bucket.isEmpty else {
                throw ConfigError("\(field).bucket_name is missing for \(name)")
            }
            // A bucket is one name (on the local store, one folder of local_root), and a home
            // goes down only: `..` was taken, and every login or write then failed.
            if bucket == "." || bucket == ".." || bucket.contains(where: { $0 == "/" || $0 == "\\" || $0 == "\0" }) {
                throw ConfigError("\(field).bucket_name of \(name) must be one name, not '.' or '..' and without '/' or '\\'")
            }
            if let home = account.home_dir,
                home.split(whereSeparator: { $0 == "/" || $0 == "\\" }).contains(where: { $0 == "." || $0 == ".." })
                    || home.contains("\0")
            {
                throw ConfigError("\(field).home_dir of \(name) may not have '.' or '..' in it: a home is a folder below the bucket's root")
            }
            if let reason = PasswordVerifier.malformedHash(password) {
                throw ConfigError("\(field).login_password of \(name) is not a usable hash: \(reason) (make one with ossftp passwd)")
            }
            if PasswordVerifier(stored: password).isPlaintext {
                warnings.append(
                    "\(field) (\(name)) keeps its password in plaintext; replace login_password with the output of ossftp passwd")
            }
            let store = try accountStore(account, field: field)
            if store.provider != .local && (account.access_id ?? "").isEmpty {
                throw ConfigError("\(field).access_id is missing for \(name)")
            }
            accountPermissions.append(try account.resolvedPermissions(field: field))
            accountCredentials.append(try account.credentials(field: field, relativeTo: configFolder))
            accountStores.append(store)
            if store.provider == .local && (try? PosixFile.status("\(localRoot)/\(bucket)"))??.isDirectory != true {
                warnings.append("\(field) (\(name)): bucket folder \(localRoot)/\(bucket) does not exist; its sessions get 550 for every command until it is made")
            }
            accounts.append(account)
        }
        // FEAT offers HASH only for checksums some store here keeps: ETags as MD5 on S3 and
        // OSS, CRC-64 on OSS; the local store keeps none.
        let providers = Set(accountStores.map(\.provider) + [provider])
        ftp.storedChecksums = providers.contains(.oss) ? [.md5, .crc64] : providers.contains(.s3) ? [.md5] : []
        // S3 takes no part under 5 MiB, so a smaller part_size_mb is raised to that: the budget
        // must hold two such parts, or every upload past the write buffer got 452 with the
        // spool idle.
        if providers.contains(.s3), spoolBudget < Int64(2 * max(partMB, 5)) << 20 {
            throw ConfigError("\(from(flags.spoolBudgetMB != nil || flags.partSizeMB != nil)): spool_budget_mb (\(spoolBudget >> 20)) must hold at least two parts of \(max(partMB, 5)) MiB (S3's smallest part is 5 MiB)")
        }
        if accounts.isEmpty && provider == .local {
            warnings.append("no account is configured: every login will be refused (see config.json, modules.accounts); the seed's access_key_id/bucket logins need modules.ossftp.provider \"oss\" or \"s3\" (--provider)")
        }
    }

    /// What is said when `mark` makes the provider OSS.
    static func seedOSSWarning(_ mark: String) -> String {
        "no provider is named, and \(mark) is the seed tool's, which always served OSS: serving OSS (name it with modules.ossftp.provider or --provider to silence this)"
    }

    /// A log level by the seed's name for it (`log_level`, `--loglevel`).
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }

    /// The first setting that only the seed tool's OSS server uses, by its name, if any: its
    /// `bucket_endpoints` and `internal` (in config.json, even empty, as its own file has them;
    /// as flags, with a value), or an account with an access key.
    static func seedOSSSetting(bucketEndpointsFlag: String? = nil, internalFlag: String? = nil, server: ConfigFile.Server?,
                               accounts: [ConfigFile.Account]) -> String? {
        if !(bucketEndpointsFlag ?? "").isEmpty { return "--bucket_endpoints" }
        if !(internalFlag ?? "").isEmpty { return "--internal" }
        if server?.bucket_endpoints != nil { return "modules.ossftp.bucket_endpoints" }
        if server?.internal != nil { return "modules.ossftp.internal" }
        if let index = accounts.firstIndex(where: { ($0.provider ?? "").isEmpty && !(($0.access_id ?? "") + ($0.access_secret ?? "")).isEmpty }) {
            return "modules.accounts[\(index)].access_id"
        }
        return nil
    }

    /// An account's store: its own `provider`, `endpoint`, `region` and `addressing` over the
    /// server's. The server's endpoint, region and addressing apply only to an account of the
    /// server's provider: an OSS account on an S3 server must not be sent to the S3 endpoint.
    func accountStore(_ account: ConfigFile.Account, field: String) throws -> AccountStore {
        var store = AccountStore(provider: provider, endpoint: endpoint, region: region, pathStyle: pathStyle)
        if let name = account.provider, !name.isEmpty {
            guard let own = Provider(rawValue: name.lowercased()) else {
                throw ConfigError("\(field).provider must be local, oss or s3, got \(name)")
            }
            if own != provider { store = AccountStore(provider: own) }
        }
        if let text = account.endpoint, !text.isEmpty {
            do { store.endpoint = try StoreEndpoint(text) } catch { throw ConfigError("\(field).endpoint: \(error)") }
        }
        if let own = account.region, !own.isEmpty { store.region = own }
        if let own = account.addressing, !own.isEmpty {
            do { store.pathStyle = try StoreOptions.pathStyle(own) } catch { throw ConfigError("\(field).addressing: \(error)") }
        }
        if store.provider == .s3 && store.endpoint == nil {
            throw ConfigError("\(field): an s3 account needs an endpoint (its own, or modules.ossftp.endpoint)")
        }
        return store
    }

    /// A credential written inline, as `env:NAME` (from the environment), or as `file:PATH`
    /// (the file's first line; the file must be readable by its owner only). A relative PATH
    /// is taken from `folder`, the config file's, as every path in the file is.
    static func secret(_ value: String, field: String, relativeTo folder: String) throws -> String {
        if value.hasPrefix("env:") {
            let name = String(value.dropFirst(4))
            guard let found = ProcessInfo.processInfo.environment[name], !found.isEmpty else {
                throw ConfigError("\(field): environment variable \(name) is not set")
            }
            return found
        }
        if value.hasPrefix("file:") {
            let path = String(value.dropFirst(5))
            return try ownerOnlyLines(absolute(path, from: folder), field: field)[0]
        }
        return value
    }

    /// Whether `value` names where a secret is (`env:NAME`, `file:PATH`) rather than being it,
    /// in the fields that take such references (not passwords).
    static func isReference(_ value: String) -> Bool {
        value.hasPrefix("env:") || value.hasPrefix("file:")
    }

    /// Refuses a file every user may write: anyone could change what the server runs with.
    /// Group access is left alone (Debian keeps keys 0640 in the `ssl-cert` group).
    static func refuseWorldAccess(_ path: String, what: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { return }  // a missing file is reported where it is read
        if status.st_mode & S_IWOTH != 0 {
            throw ConfigError("\(what) \(path) is writable by every user; chmod o-w \(path)")
        }
    }

    /// Whether the file holds a secret itself: an inline access_secret or console token (not
    /// `env:` or `file:`), or a password not hashed (passwords take no reference: `env:X` is
    /// the password itself).
    static func holdsSecretsInline(_ file: ConfigFile) -> Bool {
        func inline(_ value: String?) -> Bool {
            guard let value, !value.isEmpty else { return false }
            return !isReference(value)
        }
        func plaintext(_ password: String?) -> Bool {
            guard let password, !password.isEmpty else { return false }
            return PasswordVerifier(stored: password).isPlaintext
        }
        let accounts = file.modules.accounts ?? []
        return accounts.contains { inline($0.access_secret) || plaintext($0.login_password) }
            || inline(file.modules.launcher?.token) || plaintext(file.modules.launcher?.password)
    }

    /// The non-empty lines (trimmed) of a file that belongs to this user and only it can read;
    /// throws unless there is at least one.
    static func ownerOnlyLines(_ path: String, field: String) throws -> [String] {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw ConfigError("\(field): cannot read \(path)") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw ConfigError("\(field): \(path) is not a file") }
        guard status.st_mode & 0o077 == 0, status.st_uid == getuid() else {
            throw ConfigError("\(field): \(path) must belong to this user and be readable by it only (chmod 600)")
        }
        let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw ConfigError("\(field): \(path) is empty") }
        return lines
    }

    func makeSpool() -> SpoolConfiguration {
        SpoolConfiguration(
            directory: spoolDirectory, partSize: partSize, concurrency: uploadConcurrency,
            budget: SpoolBudget(limit: spoolBudget), journal: UploadJournal(directory: spoolDirectory + "/journal"),
            writeBack: writeBack)
    }

    /// Config accounts first, then (for OSS and S3) the seed's `access_key_id/bucket` login.
    func makeAuthenticator(spool: SpoolConfiguration, logger: Logger) throws -> any Authenticator {
        let options = ObjectVFS.Options(
            spool: spool, readAhead: readAhead, renamePolicy: renamePolicy, caches: MetadataCacheRegistry(ttl: cacheTTL),
            exactListingTimes: exactTimes)
        let root = localRoot
        let localFsync = self.localFsync
        let provider = self.provider
        let factory = provider == .local ? nil : StoreFactory(
            provider: provider == .oss ? .oss : .s3, endpoint: endpoint, region: region, pathStyle: pathStyle,
            useInternalEndpoint: useInternalEndpoint, bucketEndpoints: bucketEndpoints,
            hierarchicalNamespace: hierarchicalNamespace, s3Checksum: s3Checksum, transport: transport)
        let configured = accounts.enumerated().map { index, account in
            let bucket = account.bucket_name ?? ""
            let home = account.home_dir ?? ""
            let credentials = accountCredentials[index]
            let permissions = accountPermissions[index]
            let own = accountStores[index]
            let accountFactory = own.provider == .local ? nil : StoreFactory(
                provider: own.provider == .oss ? .oss : .s3, endpoint: own.endpoint, region: own.region,
                pathStyle: own.pathStyle, useInternalEndpoint: useInternalEndpoint, bucketEndpoints: bucketEndpoints,
                hierarchicalNamespace: hierarchicalNamespace, s3Checksum: s3Checksum, transport: transport)
            let session = AccountSession(home: home, options: options, permissions: permissions)
            let password = PasswordVerifier(stored: account.login_password ?? "")
            guard let accountFactory else {
                let local: @Sendable () throws -> any VFS = {
                    do {
                        return session.vfs(on: try LocalStore(root: root, bucket: bucket, syncsWrites: localFsync))
                    } catch ObjectStoreError.noSuchBucket(let name) {
                        // As an S3 account without its bucket: logged in, 550 for each command.
                        // The next login finds the folder once it is made.
                        return session.refusing(.noSuchBucket(name))
                    }
                }
                return ConfiguredAccount(username: account.login_username ?? "", password: password,
                                         makeVFS: { try local() }, makeVFSAtOnce: local)
            }
            Self.checkAccountStore(account.login_username ?? "", bucket: bucket, credentials: credentials,
                                   factory: accountFactory, logger: logger)
            return ConfiguredAccount(username: account.login_username ?? "", password: password) {
                session.vfs(on: try await accountFactory.makeStore(bucket: bucket, credentials: credentials))
            }
        }
        let accountLogin = AccountAuthenticator(accounts: configured)
        guard let factory else { return accountLogin }
        let storeLogin = StoreLoginAuthenticator(factory: factory, options: options)
        return ChainedAuthenticator([accountLogin, storeLogin])
    }
}

extension ServeSettings {
    /// Asks, in the background, whether an account's store takes its credentials and has its
    /// bucket, and says so in the log when not. Its logins succeed either way (the password
    /// is right: 530 would tell the user otherwise), and then every command gets 550 naming
    /// the store's refusal; the operator learns of it at start (and at each reload), not from
    /// users. A store that cannot be reached is left to the requests that need it.
    static func checkAccountStore(_ user: String, bucket: String, credentials: StoreCredentials, factory: StoreFactory,
                                  logger: Logger) {
        Task {
            do {
                try await factory.makeStore(bucket: bucket, credentials: credentials).validateCredentials()
            } catch let error as ObjectStoreError {
                switch error {
                case .invalidCredentials, .noSuchBucket, .invalidKey:
                    logger.error("account \(user): the store refuses it (\(error)); its sessions will get 550 for every command until its credentials or bucket_name are fixed")
                default:
                    break
                }
            } catch {}
        }
    }
}
