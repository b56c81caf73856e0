import ArgumentParser
import Foundation
import OSSVFS

/// `ossftp config check [PATH]`: validates config.json as `ossftp serve` would read it, and
/// explains what it sets up.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with config.json.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate config.json and explain what it sets up.",
            discussion: """
                Reads the file exactly as `ossftp serve --config PATH` does, without listening or \
                contacting a store. Exits 0 when it is valid (warnings are printed), 1 when it is not, \
                naming the field and what is wrong.
                """)

        @Argument(help: "The file.")
        var path: String = "config.json"

        func run() throws {
            let settings: ServeSettings
            do {
                settings = try ServeSettings(flags: try ServeCommand.parse(["--config", path]))
            } catch let error as ConfigError {
                FileHandle.standardError.write(Data("invalid: \(error.description)\n".utf8))
                throw ExitCode(1)
            }
            for line in ConfigExplanation(settings).lines { print(line) }
            for warning in settings.warnings { print("warning: \(warning)") }
            print("\(path): valid")
        }
    }
}

/// What a loaded configuration sets up, in a few lines for people; never a secret.
struct ConfigExplanation {
    let lines: [String]

    init(_ settings: ServeSettings) {
        var lines: [String] = []
        let ftp = settings.ftp
        lines.append("FTP on \(ftp.host):\(ftp.port), passive ports \(ftp.passivePorts.lowerBound)-\(ftp.passivePorts.upperBound)"
            + (ftp.masqueradeAddress.map { ", announced as \($0)" } ?? ""))
        if ftp.tls != nil {
            var tls = "FTPS: AUTH TLS"
            if let implicit = ftp.implicitTLSPort { tls += ", implicit on port \(implicit)" }
            if ftp.requireTLSForLogin { tls += ", required for login" }
            if ftp.requireTLSForData { tls += ", required for data" }
            if ftp.requireTLSSessionReuse { tls += ", data connections must resume the session" }
            lines.append(tls)
        } else {
            lines.append("FTPS: off (no tls_certificate and tls_key)")
        }
        switch settings.provider {
        case .local: lines.append("store: local folders under \(settings.localRoot)")
        case .oss, .s3:
            lines.append("store: \(settings.provider.rawValue) at \(settings.endpoint.map { "\($0.scheme)://\($0.authority)" } ?? "the region's endpoint")")
        }
        for (index, account) in settings.accounts.enumerated() {
            let permissions = settings.accountPermissions[index]
            let password = PasswordVerifier(stored: account.login_password ?? "").isPlaintext ? "plaintext" : "hashed"
            lines.append("account \(account.login_username ?? ""): bucket \(account.bucket_name ?? "")"
                + ((account.home_dir ?? "").isEmpty ? "" : ", home \(account.home_dir!)")
                + ", \(Self.describe(permissions)), password \(password)")
        }
        if settings.provider != .local {
            lines.append("also: the seed tool's login, access_key_id/bucket with the secret as password")
        }
        lines.append("spool: \(settings.spoolDirectory), \(settings.spoolBudget >> 20) MiB budget, parts of \(settings.partSize >> 20) MiB"
            + (settings.writeBack ? ", write-back" : ""))
        lines.append("limits: \(settings.limits.maxConnections) connections, \(settings.limits.maxConnectionsPerAddress) per address, "
            + "idle timeout \(settings.ftp.idleTimeout.components.seconds) s, ban after \(settings.limits.banThreshold) failed logins")
        switch settings.renamePolicy {
        case .refuse: lines.append("rename: refused")
        case .copy(let limit): lines.append("rename: by copy, folders of up to \(limit) objects")
        case .native: lines.append("rename: the store's own")
        }
        self.lines = lines
    }

    static func describe(_ permissions: AccountPermissions) -> String {
        switch permissions {
        case .full: return "full access"
        case .readOnly: return "read-only"
        case .noDelete: return "no delete"
        case .uploadOnly: return "upload only"
        default:
            return [permissions.read ? "read" : nil, permissions.write ? "write" : nil,
                    permissions.delete ? "delete" : nil, permissions.rename ? "rename" : nil]
                .compactMap { $0 }.joined(separator: ", ")
        }
    }
}
