/// Listings: ListObjectsV2, falling back to V1 (marker paging) on stores without it.
extension HTTPObjectStore {
    public func listPage(_ request: ListRequest) async throws -> ListPage {
        // A later page goes to the API whose token it carries: a listing under way on V2 when
        // another one found the store without it would have sent its V2 token as a marker.
        if let token = request.continuationToken {
            guard token.hasPrefix(Self.markerTag) else { return try await listV2(request) }
            var marked = request
            marked.continuationToken = String(token.dropFirst(Self.markerTag.count))
            return try await listV1(marked)
        }
        if !prefersListV1 {
            do {
                return try await listV2(request)
            } catch ObjectStoreError.service(let status, let code, _, _)
                where (status == 400 || status == 501) && (code == "InvalidArgument" || code == "NotImplemented")
            {
                // Only a first page tells a store without V2 (above, a later page's refusal is
                // of its token, which V1 would have taken as a key to start after: a listing
                // repeated a thousand names).
                prefersListV1 = true
            }
        }
        return try await listV1(request)
    }

    private func listV2(_ request: ListRequest) async throws -> ListPage {
        var query = ["list-type": "2", "prefix": request.prefix, "max-keys": String(min(request.maxKeys, 1000)),
                     "encoding-type": "url"]
        if let delimiter = request.delimiter { query["delimiter"] = delimiter }
        if let token = request.continuationToken { query["continuation-token"] = token }
        let response = try await send(retryable: true) { makeRequest("GET", query: query) }
        let (page, root) = try parse(response.body)
        var result = page
        if root.value("IsTruncated") == "true" {
            // A page that says more follow must say where: without a new token the listing
            // would either stop short or ask for the same page forever.
            // OSS encodes the token with the keys; S3 does not (encoding-type covers Key,
            // Prefix, Delimiter and StartAfter only): decoding its token turned a `+` or a `%`
            // in it into another position, and the listing repeated or skipped keys.
            let token = root.value("NextContinuationToken").map(dialect.kind == .oss ? decode(root) : { $0 })
            guard let token, !token.isEmpty,
                !token.utf8.elementsEqual((request.continuationToken ?? "").utf8)
            else { throw Self.stuckListing(request) }
            result.nextContinuationToken = token
        }
        return result
    }

    private func listV1(_ request: ListRequest) async throws -> ListPage {
        var query = ["prefix": request.prefix, "max-keys": String(min(request.maxKeys, 1000)), "encoding-type": "url"]
        if let delimiter = request.delimiter { query["delimiter"] = delimiter }
        if let marker = request.continuationToken { query["marker"] = marker }
        let response = try await send(retryable: true) { makeRequest("GET", query: query) }
        let (page, root) = try parse(response.body)
        var result = page
        if root.value("IsTruncated") == "true" {
            // NextMarker comes only with a delimiter; otherwise the last key is the marker.
            let last = [page.objects.last?.key, page.commonPrefixes.last].compactMap { $0 }.max()
            guard let next = root.value("NextMarker").map(decode(root)) ?? last,
                // Keys sort by their UTF-8 bytes (String's < would take é and e + U+0301 as equal).
                request.continuationToken.map({ $0.utf8.lexicographicallyPrecedes(next.utf8) }) ?? !next.isEmpty
            else { throw Self.stuckListing(request) }
            result.nextContinuationToken = Self.markerTag + next
        }
        return result
    }

    /// Put before a V1 marker handed out as a continuation token (no V2 token begins so).
    static let markerTag = "ossftp-v1-marker:"

    /// A truncated page whose next token or marker does not move the listing on.
    private static func stuckListing(_ request: ListRequest) -> ObjectStoreError {
        .service(status: 200, code: "MalformedResponse",
                 message: "the listing of \(request.prefix.isEmpty ? "the bucket" : request.prefix) says it is truncated but gives no next position",
                 requestID: nil)
    }

    /// How the listing's names come back with `encoding-type=url`: S3 writes a space as `+`
    /// (as botocore reads it); OSS percent-encodes every byte it encodes and leaves `+` a plus
    /// (as oss2 reads it), which matters for its base64 continuation tokens.
    private func decode(_ root: XMLNode) -> (String) -> String {
        guard root.value("EncodingType") == "url" else { return { $0 } }
        let plusIsSpace = dialect.kind != .oss
        return { URIEncoding.decode($0, plusIsSpace: plusIsSpace) }
    }

    private func parse(_ body: [UInt8]) throws -> (ListPage, XMLNode) {
        guard let root = XMLNode.parse(body), root.name == "ListBucketResult" else {
            throw ObjectStoreError.service(status: 200, code: "MalformedResponse", message: "not a listing", requestID: nil)
        }
        let decode = self.decode(root)
        let objects = root.all("Contents").map { node in
            ObjectInfo(
                key: decode(node.value("Key") ?? ""), size: UInt64(node.value("Size") ?? "") ?? 0,
                lastModified: node.value("LastModified").flatMap(HTTPDates.parseISO8601) ?? 0,
                etag: node.value("ETag") ?? "")
        }
        let prefixes = root.all("CommonPrefixes").compactMap { $0.value("Prefix") }.map(decode)
        return (ListPage(objects: objects, commonPrefixes: prefixes, nextContinuationToken: nil), root)
    }
}
