import ArgumentParser
import Foundation
import OSSVFS

/// The store flags `serve` and `cp` share.
struct StoreOptions: ParsableArguments {
    @Option(help: "Store endpoint URL (required for s3; for oss the bucket's region is found otherwise).")
    var endpoint: String?

    @Option(help: "Signing region (default: from the OSS endpoint name; us-east-1 for s3).")
    var region: String?

    @Option(help: "Bucket addressing: path or virtual (default: path for s3, virtual for oss).")
    var addressing: String?

    @Option(name: .customLong("s3_checksum"),
            help: "How S3 uploads are checked: crc32c (default) or md5, for stores that refuse x-amz-checksum headers.")
    var s3Checksum: String?

    /// The S3 body checksum from an `s3_checksum` value: CRC-32C when not given.
    static func s3Checksum(_ text: String?) throws -> StoreDialect.BodyChecksum {
        switch text?.lowercased() {
        case nil, "": return .crc32c
        case let name?:
            guard let checksum = StoreDialect.BodyChecksum(rawValue: name) else {
                throw ConfigError("s3_checksum must be crc32c or md5, got \(name)")
            }
            return checksum
        }
    }

    /// Refuses an S3 store named without its endpoint, as a command line's fault (the store
    /// factory's own refusal read "no answer: the s3 provider needs an endpoint").
    static func requireEndpoint(_ endpoint: String?, isS3: Bool) throws {
        if isS3 && endpoint == nil {
            throw ValidationError("the s3 provider needs --endpoint, the store's URL (https://s3.us-east-1.amazonaws.com, http://127.0.0.1:9000)")
        }
    }

    /// Path-style addressing from an `addressing` value: nil for the provider's default.
    static func pathStyle(_ addressing: String?) throws -> Bool? {
        switch addressing?.lowercased() {
        case nil, "": return nil
        case "path": return true
        case "virtual": return false
        case let other?: throw ConfigError("addressing must be path or virtual, got \(other)")
        }
    }

    /// Credentials from the environment: `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` (and
    /// `OSS_SESSION_TOKEN`) for OSS, the AWS variables for S3.
    static func environmentCredentials(for provider: StoreFactory.Provider, alternative: String = "")
        throws -> StoreCredentials
    {
        let environment = ProcessInfo.processInfo.environment
        let (idName, secretName, tokenName) = provider == .oss
            ? ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN")
            : ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        guard let keyID = environment[idName], let secret = environment[secretName] else {
            throw ValidationError("set \(idName) and \(secretName)\(alternative)")
        }
        return StoreCredentials(accessKeyID: keyID, secretAccessKey: secret, securityToken: environment[tokenName])
    }
}
