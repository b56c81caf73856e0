import ArgumentParser

/// The store flags `serve` and `cp` share.
struct StoreOptions: ParsableArguments {
    @Option(help: "Store endpoint URL (required for s3; for oss the bucket's region is found otherwise).")
    var endpoint: String?

    @Option(help: "Signing region (default: from the OSS endpoint name; us-east-1 for s3).")
    var region: String?

    @Option(help: "Bucket addressing: path or virtual (default: path for s3, virtual for oss).")
    var addressing: String?

    /// Path-style addressing from an `addressing` value: nil for the provider's default.
    static func pathStyle(_ addressing: String?) throws -> Bool? {
        switch addressing?.lowercased() {
        case nil, "": return nil
        case "path": return true
        case "virtual": return false
        case let other?: throw ConfigError("addressing must be path or virtual, got \(other)")
        }
    }
}
