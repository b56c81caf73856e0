import Foundation

/// Builds the store for a bucket and a set of credentials: picks the endpoint (OSS: per-bucket
/// endpoints, the configured one, or the bucket's region found through GetBucketInfo, internal
/// or public), the signing region and the addressing style.
public struct StoreFactory: Sendable {
    public enum Provider: String, Sendable {
        case oss
        case s3
    }

    public var provider: Provider
    /// The endpoint to use when no per-bucket endpoint applies.
    public var endpoint: StoreEndpoint?
    /// The signing region; derived from an OSS endpoint name when nil.
    public var region: String?
    /// Path-style addressing (local S3 servers need it); default: S3 yes, OSS no.
    public var pathStyle: Bool?
    /// OSS: internal endpoint (true), public (false), or probe (nil), when the endpoint is discovered.
    public var useInternalEndpoint: Bool?
    /// OSS: `bucket → endpoint host` (the seed's `--bucket_endpoints`).
    public var bucketEndpoints: [String: String]
    /// OSS: the buckets have the hierarchical namespace, so their atomic Rename may be used.
    public var hierarchicalNamespace: Bool
    /// S3: how request bodies are checked (CRC-32C unless a store refuses it).
    public var s3Checksum: StoreDialect.BodyChecksum
    public var transport: CurlTransport

    public init(provider: Provider, endpoint: StoreEndpoint?, region: String? = nil, pathStyle: Bool? = nil,
                useInternalEndpoint: Bool? = nil, bucketEndpoints: [String: String] = [:],
                hierarchicalNamespace: Bool = false, s3Checksum: StoreDialect.BodyChecksum = .crc32c,
                transport: CurlTransport = CurlTransport()) {
        self.hierarchicalNamespace = hierarchicalNamespace
        self.s3Checksum = s3Checksum
        self.provider = provider
        self.endpoint = endpoint
        self.region = region
        self.pathStyle = pathStyle
        self.useInternalEndpoint = useInternalEndpoint
        self.bucketEndpoints = bucketEndpoints
        self.transport = transport
    }

    /// Parses the seed's `bucket.endpoint,bucket.endpoint` (split at the first dot).
    public static func parseBucketEndpoints(_ text: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let dot = item.firstIndex(of: "."), dot != item.startIndex, item.index(after: dot) != item.endIndex else {
                throw MalformedBucketEndpoint(item: item)
            }
            result[String(item[..<dot])] = String(item[item.index(after: dot)...])
        }
        return result
    }

    /// An item of `bucket_endpoints` that is not `bucket.endpoint`.
    public struct MalformedBucketEndpoint: Error, CustomStringConvertible {
        public let item: String
        public var description: String {
            "bucket_endpoints: \"\(item)\" is not bucket.endpoint (like mybucket.oss-cn-qingdao.aliyuncs.com)"
        }
    }

    /// The OSS region id in an endpoint host: `oss-cn-hangzhou[-internal].aliyuncs.com` → `cn-hangzhou`.
    public static func ossRegion(fromHost host: String) -> String? {
        let first = host.split(separator: ".").first.map(String.init) ?? ""
        guard first.hasPrefix("oss-"), host.hasSuffix(".aliyuncs.com") else { return nil }
        // Transfer acceleration's hosts (`oss-accelerate`, `oss-accelerate-overseas`) serve
        // buckets of every region: the name is no region, and V4 signed with it fails.
        guard !first.hasPrefix("oss-accelerate") else { return nil }
        var region = String(first.dropFirst(4))
        if region.hasSuffix("-internal") { region = String(region.dropLast(9)) }
        return region.isEmpty ? nil : region
    }

    /// OSS endpoint host for a region.
    public static func ossHost(region: String, internal: Bool) -> String {
        let suffix = `internal` ? "-internal" : ""
        return "oss-\(region)\(suffix).aliyuncs.com"
    }

    /// The store for `bucket` signed with `credentials`.
    public func makeStore(bucket: String, credentials: StoreCredentials) async throws -> HTTPObjectStore {
        switch provider {
        case .s3:
            guard let endpoint else { throw ObjectStoreError.transport("the s3 provider needs an endpoint") }
            return HTTPObjectStore(
                bucket: bucket, endpoint: endpoint,
                dialect: .s3(region: region ?? "us-east-1", pathStyle: pathStyle ?? true, checksum: s3Checksum),
                credentials: credentials, transport: transport)
        case .oss:
            let endpoint = try await ossEndpoint(bucket: bucket, credentials: credentials)
            let addressedByPath = pathStyle ?? endpoint.isIPAddress
            guard let region = region ?? Self.ossRegion(fromHost: endpoint.host) else {
                // An endpoint not named after its region (a private deployment's, an address):
                // V4 needs the region, V1 does not, and OSS takes both.
                VFSMetrics.storeLogger.info(
                    "cannot tell the OSS region of \(endpoint.host): signing with V1; set --region to sign with V4")
                return HTTPObjectStore(
                    bucket: bucket, endpoint: endpoint,
                    dialect: .oss(region: "", signatureVersion: 1, pathStyle: addressedByPath),
                    credentials: credentials, transport: transport, hierarchicalNamespace: hierarchicalNamespace)
            }
            return HTTPObjectStore(
                bucket: bucket, endpoint: endpoint, dialect: .oss(region: region, pathStyle: addressedByPath),
                credentials: credentials, transport: transport, hierarchicalNamespace: hierarchicalNamespace)
        }
    }

    private func ossEndpoint(bucket: String, credentials: StoreCredentials) async throws -> StoreEndpoint {
        if let host = bucketEndpoints[bucket] { return try StoreEndpoint(host) }
        if let endpoint { return endpoint }
        // Find the bucket's region from any endpoint (GetBucketInfo may go anywhere), signed
        // with V1, which needs no region.
        let anywhere = try StoreEndpoint("https://oss-cn-hangzhou.aliyuncs.com")
        let probe = HTTPObjectStore(bucket: bucket, endpoint: anywhere, dialect: .oss(region: "cn-hangzhou", signatureVersion: 1),
                                    credentials: credentials, transport: transport)
        let found: String?
        do {
            found = try await probe.bucketRegion()
        } catch ObjectStoreError.accessDenied(let requestID) {
            // The seed tool found the region with ListBuckets, and the RAM policies written for
            // it (its README's) do not grant GetBucketInfo: said where the administrator looks.
            VFSMetrics.storeLogger.warning(
                "key \(credentials.accessKeyID) may not GetBucketInfo on the bucket \(bucket), which tells its region: grant it oss:GetBucketInfo, or name the endpoint (--endpoint, or bucket_endpoints)")
            throw ObjectStoreError.accessDenied(requestID: requestID)
        }
        guard let region = found else {
            throw ObjectStoreError.noSuchBucket(bucket)
        }
        let internalEndpoint = try StoreEndpoint("https://" + Self.ossHost(region: region, internal: true))
        let publicEndpoint = try StoreEndpoint("https://" + Self.ossHost(region: region, internal: false))
        switch useInternalEndpoint {
        case true?: return internalEndpoint
        case false?: return publicEndpoint
        case nil:
            // As the seed tool did: prefer the internal endpoint when it answers quickly.
            let quick = CurlTransport(configuration: .init(maxConcurrentTransfers: 1, connectTimeoutMilliseconds: 1000))
            let internalStore = HTTPObjectStore(bucket: bucket, endpoint: internalEndpoint,
                                                dialect: .oss(region: region), credentials: credentials,
                                                transport: quick, retry: RetryPolicy(attempts: 1))
            if (try? await internalStore.validateCredentials()) != nil { return internalEndpoint }
            return publicEndpoint
        }
    }
}
