import Foundation

/// Multipart uploads: initiate, upload part (and part copy), complete, abort, list parts and uploads.
extension HTTPObjectStore {
    /// A multipart upload whose object gets `contentHeaders` (a copy in parts keeps its source's).
    public func createMultipartUpload(_ key: String, metadata: [String: String], contentHeaders: [String: String])
        async throws -> String
    {
        var headers = contentHeaders.merging(["content-type": MediaTypes.forKey(key)]) { own, _ in own }
        for (name, value) in metadata { headers["\(dialect.headerPrefix)meta-\(name.lowercased())"] = value }
        // Parts carry a CRC-32C on S3 (``BodyChecksums``); AWS S3 refuses a part checksum that
        // the upload did not announce.
        if dialect.bodyChecksum == .crc32c { headers["x-amz-checksum-algorithm"] = "CRC32C" }
        // Not idempotent: a retry after an answer lost or a 500 may start a second upload and
        // leave the first behind, empty (a bucket lifecycle rule removes such). Not retrying
        // failed every upload larger than a part on one 503 SlowDown, which says "not done".
        let response = try await send(key: key, retryable: true) {
            makeRequest("POST", key: key, query: ["uploads": ""], headers: headers)
        }
        guard let id = XMLNode.parse(response.body)?.value("UploadId"), !id.isEmpty else {
            throw ObjectStoreError.service(status: response.status, code: "MalformedResponse", message: "no UploadId",
                                           requestID: nil)
        }
        return id
    }

    public func uploadPart(_ key: String, uploadID: String, partNumber: Int, body: ObjectBody) async throws
        -> UploadedPart
    {
        let sums = try await BodyChecksums.compute(body, for: dialect)
        let query = ["partNumber": String(partNumber), "uploadId": uploadID]
        var headers = sums.headers
        headers["content-type"] = "application/octet-stream"
        let response = try await send(key: key, retryable: true) {
            makeRequest("PUT", key: key, query: query, headers: headers, body: body)
        }
        try verifyCRC(response.headers, expected: sums.crc64, key: key)
        try await sums.verify(response.headers, body: body, dialect: dialect)
        return UploadedPart(partNumber: partNumber, etag: response.headers["etag"] ?? "", size: body.length,
                            crc64: sums.crc64, crc32c: sums.crc32c?.base64)
    }

    /// Copies `range` of an object in this bucket as part `partNumber` (UploadPartCopy).
    public func uploadPartCopy(_ key: String, uploadID: String, partNumber: Int, source: String,
                               range: ClosedRange<UInt64>, ifMatch: String?) async throws -> UploadedPart {
        let query = ["partNumber": String(partNumber), "uploadId": uploadID]
        var headers = ["\(dialect.headerPrefix)copy-source": copySource(source),
                       "\(dialect.headerPrefix)copy-source-range": "bytes=\(range.lowerBound)-\(range.upperBound)"]
        if let ifMatch, !ifMatch.isEmpty { headers["\(dialect.headerPrefix)copy-source-if-match"] = ifMatch }
        let response: HTTPResponse
        do {
            response = try await send(key: source, retryable: true) {
                makeRequest("PUT", key: key, query: query, headers: headers)
            }
        } catch ObjectStoreError.service(412, _, _, _) where ifMatch?.isEmpty == false {
            throw ObjectStoreError.changed(source)
        }
        guard let document = XMLNode.parse(response.body), document.name != "Error", let etag = document.value("ETag") else {
            throw ObjectStoreError.service(status: response.status, code: "CopyFailed", message: "part \(partNumber)",
                                           requestID: nil)
        }
        return UploadedPart(partNumber: partNumber, etag: etag, size: range.upperBound - range.lowerBound + 1,
                            crc32c: document.value("ChecksumCRC32C"))
    }

    @discardableResult
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [UploadedPart],
                                        condition: WriteCondition) async throws -> String
    {
        let items = parts.map { part -> String in
            let etag = part.etag.hasPrefix("\"") ? part.etag : "\"\(part.etag)\""
            let checksum = part.crc32c.map { "<ChecksumCRC32C>\(XMLNode.escape($0))</ChecksumCRC32C>" } ?? ""
            return "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(XMLNode.escape(etag))</ETag>\(checksum)</Part>"
        }.joined()
        let body = Array("<CompleteMultipartUpload>\(items)</CompleteMultipartUpload>".utf8)
        let headers = ["content-md5": Crypto.contentMD5(body), "content-type": "application/xml"]
        var attempt = 0
        let firstStarted = ContinuousClock.now
        while true {
            attempt += 1
            do {
                let response = try await conditional(key, condition, operation: "CompleteMultipartUpload") { conditionHeaders in
                    let headers = headers.merging(conditionHeaders) { $1 }
                    let response = try await send(key: key, retryable: false) {
                        makeRequest("POST", key: key, query: ["uploadId": uploadID], headers: headers, body: .bytes(body))
                    }
                    // S3 may answer 200 and put the error in the body.
                    if let document = XMLNode.parse(response.body), document.name == "Error" {
                        throw Self.error(bucket: bucket, code: document.value("Code") ?? "InternalError",
                                         message: document.value("Message") ?? "", status: 500, requestID: nil, key: key)
                    }
                    return response
                }
                if let expected = Self.combinedCRC(parts: parts) {
                    do {
                        try verifyCRC(response.headers, expected: expected, key: key)
                    } catch {
                        // As for a single PUT: the store kept other bytes than those sent, and
                        // they must not stay readable as the object.
                        try? await delete(key)
                        throw error
                    }
                }
                return XMLNode.parse(response.body)?.value("ETag") ?? response.headers["etag"] ?? ""
            } catch let checked as CheckedConditionRefusal {
                // On a store without conditional writes: an earlier attempt, its answer lost,
                // may have made the object the HEAD found. Its parts' ETag says so exactly.
                if let etag = await completedObject(key, parts: parts) { return etag }
                throw checked.refusal
            } catch ObjectStoreError.changed(let changed) {
                // An attempt whose answer was lost completed the upload: the object is then
                // this upload's, and no longer the version the condition names.
                if let etag = await completedObject(key, parts: parts) { return etag }
                throw ObjectStoreError.changed(changed)
            } catch ObjectStoreError.noSuchUpload(let id) {
                // The upload is gone: completed by an attempt whose answer was lost (libcurl
                // itself sends a request again when a kept-alive connection closes before any
                // answer), or aborted. Only the object tells which.
                if let etag = await completedObject(key, parts: parts) { return etag }
                throw ObjectStoreError.noSuchUpload(id)
            } catch let error as ObjectStoreError {
                guard retry.allows(after: attempt, since: firstStarted), Self.answerMayBeLost(error) else { throw error }
                // The complete may have happened with its answer lost: check before repeating it.
                do {
                    _ = try await listParts(key, uploadID: uploadID)
                } catch ObjectStoreError.noSuchUpload {
                    if let etag = await completedObject(key, parts: parts) { return etag }
                    throw error
                }
                try await retry.pause(before: attempt + 1)
            }
        }
    }

    /// The ETag of `key` when it is the object that completing `parts` makes (its size, and
    /// its CRC-64 on OSS or its multipart ETag on S3, match); nil when it is another or none.
    func completedObject(_ key: String, parts: [UploadedPart]) async -> String? {
        guard let etag = await matchingObject(key, parts: parts) else { return nil }
        // The warnings logged before (NoSuchUpload, a refused condition) end well: said so.
        VFSMetrics.storeLogger.info(
            "an earlier attempt to complete the upload was carried out, its answer lost: the object stored is this upload's",
            metadata: ["key": "\(key)", "etag": "\(etag)"])
        return etag
    }

    private func matchingObject(_ key: String, parts: [UploadedPart]) async -> String? {
        guard let info = try? await head(key), info.size == parts.reduce(0, { $0 + $1.size }) else { return nil }
        if let expected = Self.combinedCRC(parts: parts), let crc = info.crc64 { return crc == expected ? info.etag : nil }
        // S3's multipart ETag: the MD5 of the parts' MD5s, then a dash and the part count.
        var digest = Digest(.md5)
        for part in parts {
            let hex = part.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard let bytes = bytesFromHex(hex), bytes.count == 16 else { return nil }
            digest.update(bytes)
        }
        let expected = "\(hexString(digest.finalize()))-\(parts.count)"
        let etag = info.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        return etag == expected ? info.etag : nil
    }

    static func answerMayBeLost(_ error: ObjectStoreError) -> Bool {
        switch error {
        case .transport: return true
        case .service: return RetryPolicy.isRetryable(error)
        default: return false
        }
    }

    /// The whole object's CRC-64 combined from its parts' (OSS answers with it), when every part has one.
    static func combinedCRC(parts: [UploadedPart]) -> UInt64? {
        var combined: UInt64 = 0
        for part in parts {
            let span = part.crc64Span ?? part.size
            if span == 0 { continue }
            guard let crc = part.crc64 else { return nil }
            combined = CRC64.combine(combined, crc, secondLength: span)
        }
        return combined
    }

    public func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        _ = try await send(key: key, retryable: true) {
            makeRequest("DELETE", key: key, query: ["uploadId": uploadID])
        }
    }

    /// The parts uploaded so far.
    public func listParts(_ key: String, uploadID: String) async throws -> [UploadedPart] {
        var parts: [UploadedPart] = []
        var marker: String?
        repeat {
            var query = ["uploadId": uploadID, "max-parts": "1000"]
            if let marker { query["part-number-marker"] = marker }
            let response = try await send(key: key, retryable: true) { makeRequest("GET", key: key, query: query) }
            guard let root = XMLNode.parse(response.body) else { break }
            parts += root.all("Part").map {
                UploadedPart(partNumber: Int($0.value("PartNumber") ?? "") ?? 0, etag: $0.value("ETag") ?? "",
                             size: UInt64($0.value("Size") ?? "") ?? 0, crc32c: $0.value("ChecksumCRC32C"))
            }
            marker = root.value("IsTruncated") == "true" ? root.value("NextPartNumberMarker") : nil
        } while marker != nil
        return parts
    }

    /// Multipart uploads in progress under `prefix`: (key, upload id).
    public func listMultipartUploads(prefix: String = "") async throws -> [(key: String, uploadID: String)] {
        var uploads: [(String, String)] = []
        var keyMarker: String?
        var idMarker: String?
        repeat {
            var query = ["uploads": "", "prefix": prefix, "max-uploads": "1000"]
            if let keyMarker { query["key-marker"] = keyMarker }
            if let idMarker { query["upload-id-marker"] = idMarker }
            let response = try await send(retryable: true) { makeRequest("GET", query: query) }
            guard let root = XMLNode.parse(response.body) else { break }
            let plusIsSpace = dialect.kind != .oss
            let decode: (String) -> String = root.value("EncodingType") == "url" ? { URIEncoding.decode($0, plusIsSpace: plusIsSpace) } : { $0 }
            uploads += root.all("Upload").map { (decode($0.value("Key") ?? ""), $0.value("UploadId") ?? "") }
            let truncated = root.value("IsTruncated") == "true"
            keyMarker = truncated ? root.value("NextKeyMarker").map(decode) : nil
            idMarker = truncated ? root.value("NextUploadIdMarker") : nil
        } while keyMarker != nil
        return uploads
    }
}
