import Console
import Foundation
import OSSVFS

/// config.json in the seed tool's schema (`modules.accounts`, `modules.launcher`,
/// `modules.ossftp`), with ossftp's additions in `modules.ossftp`. A seed file loads unchanged;
/// unknown keys are ignored, each with a warning (a misspelt `permissions` would otherwise
/// leave an account with full rights unnoticed). Numbers and booleans are also accepted as
/// strings, as the seed's web page wrote them.
struct ConfigFile: Decodable {
    var modules: Modules
    /// Keys of the file that no setting reads, as paths (`modules.accounts[1].permission`).
    var unknownKeys: [String] = []

    private enum CodingKeys: String, CodingKey {
        case modules
    }

    struct Modules: Decodable {
        var accounts: [Account]?
        var launcher: Launcher?
        var ossftp: Server?
        /// The seed's SFTP server, which ossftp does not have (see ``SeedSFTP``).
        var osssftp: SeedSFTP?
    }

    /// The seed's `modules.osssftp`: its keys are known, and only `enable` is read, to say
    /// that ossftp serves no SFTP.
    struct SeedSFTP: Decodable {
        var enable: SeedValue?
        var address: IgnoredValue?
        var port: IgnoredValue?
        var `internal`: IgnoredValue?
        var log_level: IgnoredValue?
        var bucket_endpoints: IgnoredValue?
        var buff_size: IgnoredValue?
    }

    struct Account: Decodable, Equatable {
        var access_id: String?
        var access_secret: String?
        var bucket_name: String?
        var home_dir: String?
        var login_password: String?
        var login_username: String?
        // ossftp's additions.
        var permissions: String?
        var allow_rename: LenientBool?
        /// The account's own store; the server's (modules.ossftp) where not given.
        var provider: String?
        var endpoint: String?
        var region: String?
        var addressing: String?
    }

    struct Launcher: Decodable {
        var control_port: LenientInt?
        var language: String?
        /// The console's address (default 127.0.0.1); beyond loopback only with a password or token.
        var address: String?
        /// The console's login password, hashed (`ossftp passwd`) or, with a warning, plain.
        var password: String?
        /// A bearer token for the console's API and /metrics: inline, `env:NAME` or `file:PATH`.
        var token: String?
        /// The seed's desktop launcher's (numbers in its file); known, whatever they hold, and ignored.
        var auto_start: IgnoredValue?
        var popup_webui: IgnoredValue?
        var show_systray: IgnoredValue?
        /// The seed's scheme for OSS (`https`, its default, or `http`): ossftp keeps HTTPS unless
        /// an endpoint names http, and says so when this asks for http.
        var oss_protocol: SeedValue?
    }

    struct Server: Decodable {
        var address: String?
        var port: LenientInt?
        var passive_ports_start: LenientInt?
        var passive_ports_end: LenientInt?
        var masquerade_address: String?
        var log_level: String?
        var bucket_endpoints: String?
        var `internal`: LenientBool?
        /// The seed's switch: 0 kept its FTP server from starting, so `serve` refuses to start.
        var enable: SeedValue?
        /// The seed's send buffer in MB; ossftp sizes its buffers itself.
        var buff_size: IgnoredValue?
        // ossftp's additions.
        var provider: String?
        var endpoint: String?
        var local_root: String?
        var local_fsync: LenientBool?
        var spool_dir: String?
        var region: String?
        var addressing: String?
        var s3_checksum: String?
        var rename: String?
        var hierarchical_namespace: LenientBool?
        var rename_max_objects: LenientInt?
        var cache_ttl: LenientDouble?
        var write_back: LenientBool?
        var exact_times: LenientBool?
        var spool_budget_mb: LenientInt?
        var part_size_mb: LenientInt?
        var upload_concurrency: LenientInt?
        var read_ahead_mb: LenientInt?
        var max_connections: LenientInt?
        var max_connections_per_ip: LenientInt?
        var idle_timeout: LenientInt?
        var data_connection_timeout: LenientInt?
        var transfer_stall_timeout: LenientInt?
        var data_receive_buffer_kb: LenientInt?
        var shutdown_grace_seconds: LenientInt?
        var ban_threshold: LenientInt?
        var ban_seconds: LenientInt?
        var tls_certificate: String?
        var tls_key: String?
        var tls_require_login: LenientBool?
        var tls_require_data: LenientBool?
        var tls_require_reuse: LenientBool?
        var implicit_tls_port: LenientInt?
        var read_ahead_ranges: LenientInt?
    }

    /// Reads and decodes a file; errors name the file and the field.
    static func load(_ path: String) throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            // Why, when the system says (no such file, permission denied).
            let reason = access(path, R_OK) != 0 ? ": \(String(cString: strerror(errno)))" : ""
            throw ConfigError("\(path): cannot be read\(reason)")
        }
        if let duplicate = JSONDuplicateKeyScanner.firstDuplicate(in: [UInt8](data)) {
            throw ConfigError("\(path): line \(duplicate.line): \"\(duplicate.key)\" is given twice in one object; "
                + "keep one (tools differ on which counts)")
        }
        do {
            var file = try JSONDecoder().decode(ConfigFile.self, from: data)
            file.unknownKeys = Self.unknownKeys(in: data)
            return file
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigError("\(path): \(Self.fieldPath(context)): \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigError("\(path): \(Self.fieldPath(context)).\(key.stringValue) is missing")
        } catch let DecodingError.dataCorrupted(context) {
            // Not JSON at all: where, since the decoder does not say.
            if context.codingPath.isEmpty, let fault = JSONSyntaxLocator.firstFault(in: [UInt8](data)) {
                throw ConfigError("\(path): \(fault)")
            }
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw ConfigError("\(path): \(Self.fieldPath(context)): \(detail ?? context.debugDescription)")
        }
    }

    /// The keys of `data` (a JSON object) that no field of the schema names.
    static func unknownKeys(in data: Data) -> [String] {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        func names(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }
        func unknown(_ object: Any?, _ known: Set<String>, at path: String) -> [String] {
            guard let object = object as? [String: Any] else { return [] }
            return object.keys.filter { !known.contains($0) }.sorted().map { "\(path).\($0)" }
        }
        var found = root.keys.filter { $0 != "modules" }.sorted()
        let modules = root["modules"] as? [String: Any]
        found += unknown(modules, ["accounts", "launcher", "ossftp", "osssftp"], at: "modules")
        found += unknown(modules?["osssftp"], names(SeedSFTP()), at: "modules.osssftp")
        found += unknown(modules?["launcher"], names(Launcher()), at: "modules.launcher")
        found += unknown(modules?["ossftp"], names(Server()), at: "modules.ossftp")
        for (index, account) in ((modules?["accounts"] as? [Any]) ?? []).enumerated() {
            found += unknown(account, names(Account()), at: "modules.accounts[\(index)]")
        }
        return found
    }

    private static func fieldPath(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return path.isEmpty ? "(top level)" : String(path.drop { $0 == "." })
    }
}

extension ConfigFile.Account {
    /// The account's rights: `permissions`, with `allow_rename` over the rename right.
    /// `field` names the account in errors.
    func resolvedPermissions(field: String) throws -> AccountPermissions {
        guard var permissions = AccountPermissions(name: permissions ?? "") else {
            throw ConfigError("\(field).permissions must be full, read-only, no-delete or upload-only, got \(permissions ?? "")")
        }
        if let allowRename = allow_rename?.value {
            // A rename moves a file away from where others look for it, as a delete would: an
            // account meant to change nothing cannot be given it (the admin meant another).
            if allowRename && !permissions.write {
                throw ConfigError("\(field).allow_rename cannot be true for a read-only account: a rename changes the bucket (no-delete with allow_rename reads, adds and renames)")
            }
            permissions.rename = allowRename
        }
        return permissions
    }

    /// The store credentials, each written inline, as `env:NAME` or as `file:PATH` (relative
    /// to `folder`, the config file's).
    func credentials(field: String, relativeTo folder: String) throws -> StoreCredentials {
        StoreCredentials(
            accessKeyID: try ServeSettings.secret(access_id ?? "", field: "\(field).access_id", relativeTo: folder),
            secretAccessKey: try ServeSettings.secret(access_secret ?? "", field: "\(field).access_secret", relativeTo: folder))
    }
}

/// A bad configuration value, with where it is.
struct ConfigError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An integer written as a number or as a string of digits.
struct LenientInt: Decodable {
    var value: Int
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Int(text) {
            value = number
        } else {
            throw DecodingError.typeMismatch(
                Int.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an integer"))
        }
    }
}

/// A boolean written as true/false, "true"/"false" (any case), or null for "unset".
struct LenientBool: Decodable, Equatable {
    var value: Bool?
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = nil
        } else if let flag = try? container.decode(Bool.self) {
            value = flag
        } else if let number = try? container.decode(Int.self), number == 0 || number == 1 {
            // The seed tool writes its own switches as 0 and 1 (`"enable": 1`).
            value = number == 1
        } else if let text = try? container.decode(String.self) {
            switch text.lowercased() {
            case "true", "1": value = true
            case "false", "0": value = false
            case "", "none", "null": value = nil
            default:
                throw DecodingError.typeMismatch(
                    Bool.self, .init(codingPath: decoder.codingPath, debugDescription: "expected true or false (or 1 or 0)"))
            }
        } else {
            throw DecodingError.typeMismatch(
                Bool.self, .init(codingPath: decoder.codingPath, debugDescription: "expected true or false (or 1 or 0)"))
        }
    }
}

/// A number written as a number or as a string.
struct LenientDouble: Decodable {
    var value: Double
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Double(text) {
            value = number
        } else {
            throw DecodingError.typeMismatch(
                Double.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a number"))
        }
    }
}

/// A value of any JSON type, taken and not read: a key ossftp knows and has no use for.
struct IgnoredValue: Decodable {
    init(from decoder: any Decoder) throws {}
}

/// A seed key ossftp only looks at: text, a number or a boolean, as text (`"0"`, `"false"`);
/// nil for anything else. Never fails the file: the seed did not check these either.
struct SeedValue: Decodable {
    var text: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(String.self) {
            text = value
        } else if let value = try? container.decode(Int.self) {
            text = String(value)
        } else if let value = try? container.decode(Bool.self) {
            text = String(value)
        }
    }

    /// Whether it says off: 0 or false.
    var isOff: Bool { text.map { ["0", "false"].contains($0.lowercased()) } ?? false }
}

extension ConfigFile {
    /// The seed tool's keys that ossftp does not follow: its switch that kept FTP from starting
    /// stops `serve` with a clear word rather than serve what the file turned off; its SFTP
    /// server and plain-HTTP scheme are named as ignored.
    static func checkSeedKeys(_ file: ConfigFile?, path: String, warnings: inout [String]) throws {
        if let enable = file?.modules.ossftp?.enable, enable.isOff {
            throw ConfigError("\(path): modules.ossftp.enable is \(enable.text ?? "0"), which kept the seed tool's FTP server from starting; "
                + "set it to 1, or remove it, to serve")
        }
        if let sftp = file?.modules.osssftp, let enable = sftp.enable, enable.text != nil, !enable.isOff {
            warnings.append("\(path): modules.osssftp is the seed tool's SFTP server, which ossftp does not have; "
                + "it is ignored (ossftp encrypts with FTPS: tls_certificate and tls_key)")
        }
        if let scheme = file?.modules.launcher?.oss_protocol?.text, scheme.lowercased() != "https" {
            warnings.append("\(path): modules.launcher.oss_protocol \(scheme) is ignored: ossftp reaches OSS over HTTPS "
                + "unless an endpoint names http:// (modules.ossftp.endpoint)")
        }
    }
}
