/// Service and bucket requests: list buckets, bucket location and existence.
extension HTTPObjectStore {
    /// Buckets of the account, with their location when the store says it.
    public func listBuckets() async throws -> [(name: String, location: String?)] {
        let response = try await send(retryable: true) { makeRequest("GET", service: true) }
        guard let root = XMLNode.parse(response.body) else { return [] }
        return (root.child("Buckets")?.all("Bucket") ?? []).map { ($0.value("Name") ?? "", $0.value("Location")) }
    }

    /// The bucket's region: OSS's GetBucketInfo `Location` without `oss-`, S3's GetBucketLocation.
    public func bucketRegion() async throws -> String? {
        switch dialect.kind {
        case .oss:
            let response = try await send(retryable: true) { makeRequest("GET", query: ["bucketInfo": ""]) }
            let location = XMLNode.parse(response.body)?.child("Bucket")?.value("Location")
            return location.map { $0.hasPrefix("oss-") ? String($0.dropFirst(4)) : $0 }
        case .s3:
            let response = try await send(retryable: true) { makeRequest("GET", query: ["location": ""]) }
            let text = XMLNode.parse(response.body)?.text ?? ""
            // An empty LocationConstraint means us-east-1 (the S3 API's oldest quirk).
            return text.isEmpty ? "us-east-1" : text
        }
    }

    /// Checks that the credentials are accepted for this bucket with one cheap request that a
    /// read-only account may make: a one-byte GET of a key that should not exist. NoSuchKey,
    /// a success or AccessDenied all mean the signature was accepted.
    public func validateCredentials() async throws {
        let probe = ".ossftp-login-probe"
        do {
            let stream = try await get(probe, range: .closed(0, 0))
            stream.cancel()
        } catch ObjectStoreError.noSuchKey, ObjectStoreError.accessDenied {
            return
        } catch ObjectStoreError.service(416, _, _, _) {
            return
        }
    }
}
