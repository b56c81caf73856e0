import Foundation

/// Single-object operations: head, get, put, delete, copy.
extension HTTPObjectStore {
    public func head(_ key: String) async throws -> ObjectInfo {
        try await headAtStoreTime(key).info
    }

    /// The object at `key`, with the time its answer left the store by the store's own clock
    /// (its Date), else as last learnt (``storeNow``).
    func headAtStoreTime(_ key: String) async throws -> (info: ObjectInfo, storeTime: Double) {
        let response = try await send(key: key, retryable: true) { makeRequest("HEAD", key: key) }
        let storeTime = response.headers["date"].flatMap(HTTPDates.parseRFC1123) ?? storeNow.timeIntervalSince1970
        return (info(key: key, headers: response.headers), storeTime)
    }

    /// When a write that began at `started` (``MonotonicTime``) began by the store's clock, from
    /// an answer that left the store at `storeTime`: this machine's clock may be minutes off the
    /// store's, which Last-Modified keeps (10 minutes ahead, a PUT stored with its answers lost
    /// was taken for another's object, and reported failed).
    static func storeTime(of started: Double, answeredAt storeTime: Double) -> Double {
        storeTime - (MonotonicTime.now - started)
    }

    func info(key: String, headers: [String: String]) -> ObjectInfo {
        let metaPrefix = "\(dialect.headerPrefix)meta-"
        var metadata: [String: String] = [:]
        for (name, value) in headers where name.hasPrefix(metaPrefix) {
            metadata[String(name.dropFirst(metaPrefix.count))] = value
        }
        return ObjectInfo(
            key: key, size: UInt64(headers["content-length"] ?? "") ?? 0,
            lastModified: headers["last-modified"].flatMap(HTTPDates.parseRFC1123) ?? 0,
            etag: headers["etag"] ?? "", metadata: metadata,
            crc64: headers["x-oss-hash-crc64ecma"].flatMap { UInt64($0) },
            contentMD5: dialect.contentMD5(etag: headers["etag"], in: headers),
            contentHeaders: headers.filter { ObjectInfo.contentHeaderNames.contains($0.key) })
    }

    public func get(_ key: String, range: ByteRange?, ifMatch: String?) async throws -> ObjectByteStream {
        var attempt = 0
        let firstStarted = ContinuousClock.now
        while true {
            attempt += 1
            var headers: [String: String] = [:]
            if let range { headers["range"] = Self.rangeHeader(range) }
            if let ifMatch, !ifMatch.isEmpty { headers["if-match"] = ifMatch }
            // Without it OSS ignores a bad range and sends the whole object.
            if dialect.kind == .oss { headers["x-oss-range-behavior"] = "standard" }
            let request = makeRequest("GET", key: key, headers: headers)
            let started = ContinuousClock.now
            do {
                let (head, stream) = try await transport.start(request)
                guard (200..<300).contains(head.status) else {
                    var body: [UInt8] = []
                    for try await chunk in stream where body.count < 64 << 10 { body += chunk }
                    // RFC 9110 §13.1.1: 412 when If-Match no longer matches.
                    let error = head.status == 412 && ifMatch != nil
                        ? ObjectStoreError.changed(key) : serviceError(head, body: body, key: key)
                    record(request, key: key, since: started, .answered(head, error))
                    if retry.allows(after: attempt, since: firstStarted) && RetryPolicy.isRetryable(error) {
                        try await retry.pause(before: attempt + 1)
                        continue
                    }
                    throw error
                }
                // Latency to the first byte: the body streams at the reader's pace.
                record(request, key: key, since: started, .answered(head, nil))
                let contentLength = head.headers["content-length"].flatMap { UInt64($0) }
                // Counted as it streams: a body that ends short of what its headers promise
                // (chunked, or cut by a proxy) is a broken transfer, never a shorter object.
                let bodyLength = ContentRangeCheck.bodyLength(
                    status: head.status, contentRange: head.headers["content-range"], contentLength: contentLength)
                if let range {
                    if let problem = ContentRangeCheck.problem(
                        asked: range, status: head.status, contentRange: head.headers["content-range"],
                        contentLength: contentLength)
                    {
                        stream.cancel()
                        throw ObjectStoreError.service(status: head.status, code: "InvalidRangeAnswer", message: problem,
                                                       requestID: head.headers["\(dialect.headerPrefix)request-id"])
                    }
                    // A range that covers the whole object (an upload continuing one reads it
                    // so) is checked like a whole read; any other has no checksum of its own.
                    guard ContentRangeCheck.holdsWholeObject(status: head.status, contentRange: head.headers["content-range"])
                    else {
                        return ObjectByteStream(source: VerifyingChunkSource(
                            upstream: stream, key: key, expectedCRC64: nil, expectedMD5: nil, expectedLength: bodyLength))
                    }
                }
                // A whole object is checked end to end: CRC-64 on OSS, the MD5 ETag of a single-part S3 object.
                let expectedCRC = head.headers["x-oss-hash-crc64ecma"].flatMap { UInt64($0) }
                let expectedMD5 = dialect.kind == .s3 ? dialect.contentMD5(etag: head.headers["etag"], in: head.headers) : nil
                return ObjectByteStream(source: VerifyingChunkSource(
                    upstream: stream, key: key, expectedCRC64: expectedCRC, expectedMD5: expectedMD5,
                    expectedLength: bodyLength))
            } catch let error as HTTPTransportError {
                record(request, key: key, since: started, .transportFailed(error))
                if retry.allows(after: attempt, since: firstStarted) && error.isConnectionFailure {
                    try await retry.pause(before: attempt + 1)
                    continue
                }
                throw ObjectStoreError.transport(error.description, curlCode: error.code)
            }
        }
    }

    static func rangeHeader(_ range: ByteRange) -> String {
        switch range {
        case .from(let start): return "bytes=\(start)-"
        case .closed(let start, let end): return "bytes=\(start)-\(end)"
        case .suffix(let count): return "bytes=-\(count)"
        }
    }

    @discardableResult
    public func put(_ key: String, body: ObjectBody, metadata: [String: String], contentHeaders: [String: String],
                    condition: WriteCondition) async throws -> String
    {
        let sums = try await BodyChecksums.compute(body, for: dialect)
        var headers = contentHeaders.merging(sums.headers) { _, sum in sum }
        if headers["content-type"] == nil { headers["content-type"] = MediaTypes.forKey(key) }
        for (name, value) in metadata { headers["\(dialect.headerPrefix)meta-\(name.lowercased())"] = value }
        let response: HTTPResponse
        let started = MonotonicTime.now
        do {
            response = try await conditional(key, condition, operation: "PUT") { conditionHeaders in
                let headers = headers.merging(conditionHeaders) { $1 }
                return try await send(key: key, retryable: true) { makeRequest("PUT", key: key, headers: headers, body: body) }
            }
        } catch let checked as CheckedConditionRefusal {
            throw checked.refusal
        } catch let refusal as ObjectStoreError where refusal.isConditionRefusal {
            // The PUT is retried when its answer is lost, and the retry of one that was stored
            // meets its own object: the same bytes there are this upload's, not a conflict.
            if let etag = try await storedAlready(key, body: body, sums: sums, metadata: metadata, since: started) {
                return etag
            }
            throw refusal
        } catch let error as ObjectStoreError where Self.answerMayBeLost(error) {
            // Every attempt's answer lost (a frozen store that took the bytes, a gateway's 502
            // after the store kept them): a 451 then told the client to send again what was
            // stored, and an APPE sent twice doubled its bytes. The object says which.
            if let etag = try await storedAlready(key, body: body, sums: sums, metadata: metadata, since: started) {
                return etag
            }
            throw error
        }
        do {
            try verifyCRC(response.headers, expected: sums.crc64, key: key)
            try await sums.verify(response.headers, body: body, dialect: dialect)
        } catch {
            // The store kept other bytes than those sent: they must not stay readable as the
            // object (the one they replaced is gone either way).
            try? await delete(key)
            throw error
        }
        return response.headers["etag"] ?? ""
    }

    /// The ETag of `key` when the object there is this PUT's: the same size and `metadata`'s
    /// time, stored since the PUT began at `started` (``MonotonicTime``; by the store's clock,
    /// give or take ``clockSkew``), and the same CRC-64 (OSS)
    /// or MD5 (an ETag that is one); nil when it differs, is missing, or tells nothing to
    /// compare. An older object with the same bytes is not this PUT's: its time (and, for a
    /// write that must not replace, its existence) would be taken for done.
    private func storedAlready(_ key: String, body: ObjectBody, sums: BodyChecksums, metadata: [String: String],
                               since started: Double) async throws -> String? {
        guard let (stored, answered) = try? await headAtStoreTime(key), stored.size == body.length,
            stored.lastModified >= Self.storeTime(of: started, answeredAt: answered) - Self.clockSkew,
            metadata["mtime"] == nil || stored.metadata["mtime"] == metadata["mtime"]
        else { return nil }
        if let crc = stored.crc64, let expected = sums.crc64 { return crc == expected ? stored.etag : nil }
        guard let storedMD5 = stored.contentMD5 else { return nil }
        var md5 = sums.md5
        if md5 == nil { md5 = try await BodyChecksums.compute(body, md5: true, crc64: false, crc32c: false).md5 }
        return md5.map(hexString) == storedMD5 ? stored.etag : nil
    }

    /// How far Last-Modified may be before the write began by the store's clock, for
    /// ``storedAlready``: it has whole seconds, and a gateway in front of the store may date
    /// its answers by a clock of its own.
    static let clockSkew: Double = 120

    /// The header that makes a write fail when the key exists: S3's conditional write (RFC 9110
    /// §13.1.2), OSS's own flag.
    var absentCondition: [String: String] {
        switch dialect.kind {
        case .s3: return ["if-none-match": "*"]
        case .oss: return ["x-oss-forbid-overwrite": "true"]
        }
    }

    /// AWS's 409 when another conditional write of the key is under way: it lost the race.
    static let conditionalConflict = "ConditionalRequestConflict"

    /// The headers that make a write conditional; none for `.matching` on OSS, which has no
    /// such check for writes.
    func conditionHeaders(_ condition: WriteCondition) -> [String: String] {
        switch condition {
        case .none: return [:]
        case .absent: return absentCondition
        case .matching(let etag): return dialect.kind == .s3 ? ["if-match": etag] : [:]
        }
    }

    /// Runs a write, given the headers of its condition; the store's refusal of the condition
    /// (S3's 412, OSS's 409 FileAlreadyExists) becomes ``ObjectStoreError/conflict(_:)`` for
    /// `.absent` and ``ObjectStoreError/changed(_:)`` for `.matching` (a missing object
    /// included: S3 answers 404 to If-Match then).
    ///
    /// A store without conditional writes (501 NotImplemented, as AWS answers a header it does
    /// not implement) is written to without them, its condition checked by a HEAD just before:
    /// as on OSS for `.matching`, that leaves the time of one request to a concurrent writer,
    /// where failing every exclusive create would leave the mount unable to make a lock or a
    /// temporary file on that store. Once the write without the condition succeeded, that kind
    /// of write (`operation` and condition) skips the condition from then on.
    func conditional<T>(_ key: String, _ condition: WriteCondition, operation: String,
                        _ write: (_ conditionHeaders: [String: String]) async throws -> T) async throws -> T
    {
        let headers = conditionHeaders(condition)
        let kind = Self.conditionKind(condition, operation: operation)
        if !headers.isEmpty && refusesConditions(kind) {
            try await checkedCondition(key, condition)
            return try await write([:])
        }
        do {
            return try await write(headers)
        } catch let error as ObjectStoreError {
            switch (condition, error) {
            case (_, .service(let status, let code, _, _)) where !headers.isEmpty && (status == 501 || code == "NotImplemented"):
                try await checkedCondition(key, condition)
                do {
                    let written = try await write([:])
                    if noteConditionsRefused(kind) {
                        VFSMetrics.storeLogger.warning(
                            "the store has no conditional writes of this kind (\(kind): \(code)): each is checked by a HEAD just before it instead")
                    }
                    return written
                } catch ObjectStoreError.service(let again, let code, _, _) where again == 501 || code == "NotImplemented" {
                    // Refused without the condition too: the 501 was not the condition's.
                    throw error
                }
            case (.absent, .service(let status, let code, _, _))
                where Self.refusesCondition(status, code) || code == "FileAlreadyExists":
                throw ObjectStoreError.conflict("\(key) exists")
            case (.matching, .service(let status, let code, _, _)) where Self.refusesCondition(status, code):
                throw ObjectStoreError.changed(key)
            case (.matching, .noSuchKey):
                // S3 answers If-Match on a missing key with 404: gone is changed too.
                throw ObjectStoreError.changed(key)
            default:
                throw error
            }
        }
    }

    /// A condition found not to hold by the HEAD that stands in for it (``checkCondition(_:_:)``)
    /// on a store without conditional writes; the write was not sent. Callers throw `refusal`.
    struct CheckedConditionRefusal: Error {
        let refusal: ObjectStoreError
    }

    /// The kind of a conditional write, for ``refusesConditions(_:)``.
    static func conditionKind(_ condition: WriteCondition, operation: String) -> String {
        switch condition {
        case .none: return operation
        case .absent: return operation + " If-None-Match"
        case .matching: return operation + " If-Match"
        }
    }

    /// ``checkCondition(_:_:)``, its refusal wrapped: nothing was sent, so the callers'
    /// recoveries for a refusal met by their own retried write do not apply.
    private func checkedCondition(_ key: String, _ condition: WriteCondition) async throws {
        do {
            try await checkCondition(key, condition)
        } catch let refusal as ObjectStoreError where refusal.isConditionRefusal {
            throw CheckedConditionRefusal(refusal: refusal)
        }
    }

    /// A write's condition, checked by asking the store: for a store without conditional writes.
    /// Only a missing object is absent: a HEAD the store refused or failed is no answer.
    func checkCondition(_ key: String, _ condition: WriteCondition) async throws {
        switch condition {
        case .none:
            return
        case .absent:
            do {
                _ = try await head(key)
            } catch ObjectStoreError.noSuchKey {
                return
            }
            throw ObjectStoreError.conflict("\(key) exists")
        case .matching(let etag):
            let now: ObjectInfo
            do {
                now = try await head(key)
            } catch ObjectStoreError.noSuchKey {
                throw ObjectStoreError.changed(key)
            }
            guard now.etag == etag else { throw ObjectStoreError.changed(key) }
        }
    }

    /// Whether an answer says a write's condition did not hold (RFC 9110 §15.5.13, or AWS's 409
    /// for a conditional write that lost a race with another).
    static func refusesCondition(_ status: Int, _ code: String) -> Bool {
        status == 412 || code == "PreconditionFailed" || code == conditionalConflict
    }

    /// Compares the store's CRC-64 with ours; a store that reports none is trusted on Content-MD5.
    func verifyCRC(_ headers: [String: String], expected: UInt64?, key: String) throws {
        guard let expected, let reported = headers["x-oss-hash-crc64ecma"].flatMap({ UInt64($0) }) else { return }
        guard reported == expected else {
            throw ObjectStoreError.checksumMismatch(expected: String(expected), actual: String(reported))
        }
    }

    public func delete(_ key: String) async throws {
        _ = try await send(key: key, retryable: true) { makeRequest("DELETE", key: key) }
    }

    public func deleteMany(_ allKeys: [String]) async throws -> [String: ObjectStoreError] {
        var failures: [String: ObjectStoreError] = [:]
        // A key XML cannot carry would make the whole batch malformed: such keys go one by one.
        var keys: [String] = []
        for key in allKeys {
            guard !XMLNode.canCarry(key) else {
                keys.append(key)
                continue
            }
            do {
                try await delete(key)
            } catch let error as ObjectStoreError {
                failures[key] = error
            }
        }
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            start += batch.count
            let objects = batch.map { "<Object><Key>\(XMLNode.escape($0))</Key></Object>" }.joined()
            let body = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            let headers = ["content-md5": Crypto.contentMD5(body), "content-type": "application/xml"]
            let response = try await send(retryable: true) {
                makeRequest("POST", query: ["delete": ""], headers: headers, body: .bytes(body))
            }
            for error in XMLNode.parse(response.body)?.all("Error") ?? [] {
                let key = error.value("Key") ?? ""
                failures[key] = Self.error(
                    bucket: bucket, code: error.value("Code") ?? "InternalError", message: error.value("Message") ?? "",
                    status: 200, requestID: nil, key: key)
            }
        }
        return failures
    }

    public func copy(from source: String, to destination: String, condition: WriteCondition) async throws {
        try await copy(from: source, to: destination, singleRequestLimit: dialect.kind == .oss ? 1 << 30 : 5 << 30,
                       condition: condition)
    }

    /// Copies with one CopyObject up to `singleRequestLimit` bytes, else as a multipart upload of
    /// UploadPartCopy parts (CopyObject's limit is 1 GB on OSS and 5 GB on S3). `condition` is
    /// on the destination, sent as for a PUT (a store without it: checked by a HEAD just before).
    public func copy(from source: String, to destination: String, singleRequestLimit: UInt64,
                     partSize: UInt64 = 256 << 20, condition: WriteCondition = .none) async throws {
        let size = try await head(source).size
        if size > singleRequestLimit {
            try await copyInParts(from: source, to: destination, size: size, partSize: partSize, metadata: nil,
                                  condition: condition)
            return
        }
        let headers = ["\(dialect.headerPrefix)copy-source": copySource(source)]
        let response: HTTPResponse
        let started = MonotonicTime.now
        do {
            response = try await conditional(destination, condition, operation: "COPY") { conditionHeaders in
                let headers = headers.merging(conditionHeaders) { $1 }
                return try await send(key: source, retryable: true) { makeRequest("PUT", key: destination, headers: headers) }
            }
        } catch let checked as CheckedConditionRefusal {
            throw checked.refusal
        } catch let refusal as ObjectStoreError where refusal.isConditionRefusal && condition == .absent {
            // A retry whose first attempt copied and lost its answer meets that copy: this
            // copy's, not a name taken (a rename then kept both names and said "exists").
            if await copiedAlready(from: source, to: destination, since: started) { return }
            throw refusal
        }
        // S3 may answer 200 with an error document when a copy fails late.
        if let document = XMLNode.parse(response.body), document.name == "Error" {
            throw Self.error(bucket: bucket, code: document.value("Code") ?? "InternalError", message: document.value("Message") ?? "",
                             status: 200, requestID: nil, key: source)
        }
    }

    /// Whether the object at `destination` is a copy of `source` made since `started`
    /// (``MonotonicTime``; by the store's clock, give or take ``clockSkew``): the same size, and
    /// the same CRC-64 (OSS) or the same single-part MD5 ETag. Anything it cannot tell is no.
    private func copiedAlready(from source: String, to destination: String, since started: Double) async -> Bool {
        guard let (copy, answered) = try? await headAtStoreTime(destination), let original = try? await head(source),
            copy.size == original.size,
            copy.lastModified >= Self.storeTime(of: started, answeredAt: answered) - Self.clockSkew
        else { return false }
        if let made = copy.crc64, let expected = original.crc64 { return made == expected }
        return original.contentMD5 != nil && copy.etag == original.etag
    }

    private func copyInParts(from source: String, to destination: String, size: UInt64, partSize: UInt64,
                             metadata: [String: String]?, contentHeaders: [String: String]? = nil,
                             condition: WriteCondition = .none) async throws {
        // Multipart copies do not carry the source's metadata and standard headers over: take
        // them along (the metadata unless replaced).
        var carried = metadata ?? [:]
        var headers = contentHeaders ?? [:]
        if metadata == nil || contentHeaders == nil {
            let info = try await head(source)
            if metadata == nil { carried = info.metadata }
            if contentHeaders == nil { headers = info.contentHeaders }
        }
        let id = try await createMultipartUpload(destination, metadata: carried, contentHeaders: headers)
        do {
            var parts: [UploadedPart] = []
            var offset: UInt64 = 0
            while offset < size {
                let last = min(offset + partSize, size) - 1
                parts.append(try await uploadPartCopy(destination, uploadID: id, partNumber: parts.count + 1,
                                                      source: source, range: offset...last))
                offset = last + 1
            }
            try await completeMultipartUpload(destination, uploadID: id, parts: parts, condition: condition)
        } catch {
            try? await abortMultipartUpload(destination, uploadID: id)
            throw error
        }
    }

    /// Rewrites an object's metadata by copying it onto itself (CopyObject with the REPLACE
    /// directive; a multipart copy above CopyObject's limit).
    public func replaceMetadata(_ key: String, metadata: [String: String]) async throws {
        let info = try await head(key)
        let limit: UInt64 = dialect.kind == .oss ? 1 << 30 : 5 << 30
        if info.size > limit {
            let temporary = key + ".ossftp-meta-" + DirectoryOps.randomName()
            try await copyInParts(from: key, to: temporary, size: info.size, partSize: 256 << 20, metadata: metadata,
                                  contentHeaders: info.contentHeaders)
            try await copyInParts(from: temporary, to: key, size: info.size, partSize: 256 << 20, metadata: metadata,
                                  contentHeaders: info.contentHeaders)
            try await delete(temporary)
            return
        }
        // REPLACE replaces the standard headers too: the object's own are sent again.
        var headers = info.contentHeaders.merging(["content-type": MediaTypes.forKey(key)]) { own, _ in own }
        headers["\(dialect.headerPrefix)copy-source"] = copySource(key)
        headers["\(dialect.headerPrefix)metadata-directive"] = "REPLACE"
        for (name, value) in metadata { headers["\(dialect.headerPrefix)meta-\(name.lowercased())"] = value }
        let response = try await send(key: key, retryable: true) { makeRequest("PUT", key: key, headers: headers) }
        if let document = XMLNode.parse(response.body), document.name == "Error" {
            throw Self.error(bucket: bucket, code: document.value("Code") ?? "InternalError", message: document.value("Message") ?? "",
                             status: 200, requestID: nil, key: key)
        }
    }

    /// OSS's atomic Rename on buckets with the hierarchical namespace (`POST /dst?x-oss-rename`),
    /// which never replaces: a taken name is 409 FileAlreadyExists, whatever `replacing` says.
    public func rename(from source: String, to destination: String, replacing: Bool) async throws {
        guard capabilities.nativeRename else {
            throw ObjectStoreError.service(status: 501, code: "NotImplemented",
                                           message: "rename needs an OSS bucket with the hierarchical namespace",
                                           requestID: nil)
        }
        let headers = ["x-oss-rename-source": URIEncoding.encode(source, keepSlash: true)]
        _ = try await send(key: source, retryable: false) {
            makeRequest("POST", key: destination, query: ["x-oss-rename": ""], headers: headers)
        }
    }

    /// `/bucket/key` with the key percent-encoded, for the copy-source header.
    func copySource(_ key: String) -> String {
        "/\(bucket)/\(URIEncoding.encode(key, keepSlash: true))"
    }
}
