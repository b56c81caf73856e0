/// Multipart uploads for ``LocalStore``: parts are staged as files under
/// `.ossftp-uploads/<upload id>/` and joined into the object at completion.
extension LocalStore {
    public func createMultipartUpload(_ key: String, metadata: [String: String], contentHeaders: [String: String])
        async throws -> String
    {
        let modified = try Self.modificationTime(from: metadata)
        let layout = self.layout
        return try await BlockingIO.run {
            _ = try layout.components(of: key)
            let uploadID = DirectoryOps.randomName()
            let folder = "\(layout.uploadsFolderPath)/\(uploadID)"
            try DirectoryOps.makePath(folder, under: layout.bucketPath)
            let keyFile = try PosixFile.createExclusive("\(folder)/key")
            try keyFile.writeAll(Array(key.utf8))
            try keyFile.close()
            if let modified {
                let mtimeFile = try PosixFile.createExclusive("\(folder)/mtime")
                try mtimeFile.writeAll(Array(String(modified).utf8))
                try mtimeFile.close()
            }
            return uploadID
        }
    }

    public func uploadPart(_ key: String, uploadID: String, partNumber: Int, body: ObjectBody) async throws
        -> UploadedPart
    {
        let layout = self.layout
        let maxParts = capabilities.maxParts
        return try await BlockingIO.run {
            guard (1...maxParts).contains(partNumber) else {
                throw ObjectStoreError.service(
                    status: 400, code: "InvalidArgument", message: "part number \(partNumber)", requestID: nil)
            }
            let folder = try layout.uploadFolder(uploadID, key: key)
            // Parts need no sync: the completed object is synced as a whole.
            let temp = try layout.stage(body, sync: false)
            let partPath = "\(folder)/part-\(partNumber)"
            try DirectoryOps.rename(temp, to: partPath)
            guard let status = try PosixFile.status(partPath) else {
                throw ObjectStoreError.noSuchUpload(uploadID)
            }
            let etag = LocalKeyLayout.etag(size: status.size, modified: status.modified)
            return UploadedPart(partNumber: partNumber, etag: etag, size: status.size)
        }
    }

    public func uploadPartCopy(_ key: String, uploadID: String, partNumber: Int, source: String,
                               range: ClosedRange<UInt64>, ifMatch: String?) async throws -> UploadedPart {
        let layout = self.layout
        let info = try await head(source)
        if let ifMatch, info.etag != ifMatch { throw ObjectStoreError.changed(source) }
        guard range.upperBound < info.size else {
            throw ObjectStoreError.service(status: 416, code: "InvalidRange", message: "copy range", requestID: nil)
        }
        let body = ObjectBody.file(path: try layout.filePath(for: source), offset: range.lowerBound,
                                   length: range.upperBound - range.lowerBound + 1)
        return try await uploadPart(key, uploadID: uploadID, partNumber: partNumber, body: body)
    }

    @discardableResult
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [UploadedPart],
                                        condition: WriteCondition) async throws -> String
    {
        let layout = self.layout
        return try await BlockingIO.run {
            let folder = try layout.uploadFolder(uploadID, key: key)
            if case .placed = try layout.resumeCompletion(in: folder, key: key) {
                return try layout.info(for: key).etag
            }
            guard !parts.isEmpty, zip(parts, parts.dropFirst()).allSatisfy({ $0.partNumber < $1.partNumber }) else {
                throw ObjectStoreError.service(
                    status: 400, code: "InvalidPartOrder", message: "parts must ascend", requestID: nil)
            }
            let destination = try layout.filePath(for: key)
            try layout.adoptBareFolder(above: try layout.receivingFolder(for: key))
            try DirectoryOps.makePath(try layout.parentFolder(for: key), under: layout.bucketPath)
            try DirectoryOps.makePath(layout.tempFolderPath, under: layout.bucketPath)
            let tempName = DirectoryOps.randomName()
            let temp = "\(layout.tempFolderPath)/\(tempName)"
            func checkedPath(_ part: UploadedPart) throws -> (path: String, size: UInt64, modified: Double) {
                let partPath = "\(folder)/part-\(part.partNumber)"
                guard let status = try PosixFile.status(partPath), status.size == part.size,
                    LocalKeyLayout.etag(size: status.size, modified: status.modified) == part.etag
                else {
                    throw ObjectStoreError.service(
                        status: 400, code: "InvalidPart", message: "part \(part.partNumber)", requestID: nil)
                }
                return (partPath, status.size, status.modified)
            }
            // The first part becomes the object's file and only the later parts are copied onto
            // it, unless another name (a spool file) still shares its bytes.
            let first = try checkedPath(parts[0])
            let reusesFirst = PosixFile.linkCount(first.path) == 1
            let output: PosixFile
            let note = "\(folder)/\(LocalKeyLayout.completionNote)"
            if reusesFirst {
                // Said first where the first part goes: a process that dies before the object
                // is placed leaves it there, and the next completion takes it back.
                if let inode = PosixFile.inode(first.path) {
                    try LocalKeyLayout.CompletionNote(inode: inode, size: first.size, modified: first.modified,
                                                      partNumber: parts[0].partNumber, tempName: tempName).write(in: folder)
                }
                try DirectoryOps.rename(first.path, to: temp)
                output = try PosixFile.openAtEnd(temp)
            } else {
                output = try PosixFile.createExclusive(temp, mode: 0o644)
            }
            do {
                for part in reusesFirst ? parts.dropFirst() : parts[...] {
                    let (partPath, size, _) = try checkedPath(part)
                    let input = try PosixFile.openForReading(partPath)
                    defer { try? input.close() }
                    try output.append(contentsOf: input, length: size)
                }
                if layout.syncsWrites { try output.sync() }
                try output.close()
                if let stored = try? PosixFile.openForReading("\(folder)/mtime").read(at: 0, count: 64),
                    let modified = Double(String(decoding: stored, as: UTF8.self))
                {
                    try DirectoryOps.setModificationTime(temp, modified)
                }
                try layout.place(temp, at: destination, key: key, condition: condition)
            } catch {
                if reusesFirst {
                    // The upload stays as it was, so that completing it again can work.
                    try? PosixFile.truncate(temp, to: first.size)
                    try? DirectoryOps.restoreModificationTime(temp, first.modified)
                    // The note stays unless the part is back: the next completion takes it back.
                    if (try? DirectoryOps.rename(temp, to: first.path)) != nil { try? DirectoryOps.unlinkIfPresent(note) }
                } else {
                    try? DirectoryOps.unlinkIfPresent(temp)
                }
                throw error
            }
            layout.settle(destination, size: parts.reduce(0) { $0 + $1.size })
            try DirectoryOps.removeTree(folder)
            return try layout.info(for: key).etag
        }
    }

    public func listParts(_ key: String, uploadID: String) async throws -> [UploadedPart] {
        let layout = self.layout
        return try await BlockingIO.run {
            let folder = try layout.uploadFolder(uploadID, key: key)
            if case .placed = try layout.resumeCompletion(in: folder, key: key) { throw ObjectStoreError.noSuchUpload(uploadID) }
            return try (DirectoryOps.entries(of: folder) ?? []).compactMap { entry -> UploadedPart? in
                guard entry.name.hasPrefix("part-"), let number = Int(entry.name.dropFirst(5)),
                    let status = try PosixFile.status("\(folder)/\(entry.name)")
                else { return nil }
                return UploadedPart(partNumber: number, etag: LocalKeyLayout.etag(size: status.size, modified: status.modified),
                                    size: status.size)
            }.sorted { $0.partNumber < $1.partNumber }
        }
    }

    public func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        let layout = self.layout
        try await BlockingIO.run {
            try DirectoryOps.removeTree(try layout.uploadFolder(uploadID, key: key))
        }
    }
}

extension LocalKeyLayout {
    /// The note a completion leaves in the upload's folder while its first part is away being
    /// made the object: `<inode> <size> <mtime> <part number> <name in .ossftp-tmp>`.
    static let completionNote = "completing"

    /// A completion note's fields.
    struct CompletionNote {
        var inode: UInt64
        var size: UInt64
        var modified: Double
        var partNumber: Int
        /// The temporary file's name in ``tempFolderPath`` (a name, so the note holds however
        /// the bucket's folder is spelled at the next start).
        var tempName: String

        init(inode: UInt64, size: UInt64, modified: Double, partNumber: Int, tempName: String) {
            (self.inode, self.size, self.modified, self.partNumber, self.tempName) = (inode, size, modified, partNumber, tempName)
        }

        /// Read from the note's text (``write(in:)``); nil when it does not read.
        init?(_ text: String) {
            let fields = text.split(separator: " ", maxSplits: 4).map(String.init)
            guard fields.count == 5, let inode = UInt64(fields[0]), let size = UInt64(fields[1]),
                let modified = Double(fields[2]), let part = Int(fields[3]), !fields[4].contains("/")
            else { return nil }
            (self.inode, self.size, self.modified, partNumber, tempName) = (inode, size, modified, part, fields[4])
        }

        /// Writes this note into the upload folder `folder`, in place of any there.
        func write(in folder: String) throws {
            let path = "\(folder)/\(completionNote)"
            try DirectoryOps.unlinkIfPresent(path)
            let file = try PosixFile.createExclusive(path)
            try file.writeAll(Array("\(inode) \(size) \(modified) \(partNumber) \(tempName)".utf8))
            try file.close()
        }

        /// The note of the upload folder `folder`, if it has one that reads.
        static func read(in folder: String) -> CompletionNote? {
            guard let text = try? PosixFile.openForReading("\(folder)/\(completionNote)").read(at: 0, count: 8192)
            else { return nil }
            return CompletionNote(String(decoding: text, as: UTF8.self))
        }
    }

    /// Where an upload stands after a completion that did not end (the process died).
    enum CompletionState {
        /// No completion was under way, or it was taken back: the parts are all in place.
        case parts
        /// The object was placed: the upload is done, and its folder now removed.
        case placed
    }

    /// Takes back the first part of a completion cut short, so that completing again can work:
    /// the completion moves the part out to be the object's file and appends the others to it,
    /// and the object never got its bytes, nor could any later completion (the part was gone;
    /// an acknowledged write-back upload was lost so). The part's inode tells what happened:
    /// at the key, the object was placed (whatever is left at the temporary name: the
    /// replaced object an exchange put there, or a second link a link-then-unlink placement
    /// had not removed yet); else at the temporary name alone, it is cut back to its size and
    /// time and put back.
    func resumeCompletion(in folder: String, key: String) throws -> CompletionState {
        let notePath = "\(folder)/\(Self.completionNote)"
        guard PosixFile.inode(notePath) != nil else { return .parts }
        guard let note = CompletionNote.read(in: folder),
            try PosixFile.status("\(folder)/part-\(note.partNumber)") == nil
        else {
            // Written but the part never moved (or a note cut short before it could).
            try DirectoryOps.unlinkIfPresent(notePath)
            return .parts
        }
        let temp = "\(tempFolderPath)/\(note.tempName)"
        if PosixFile.inode(try filePath(for: key)) == note.inode {
            try DirectoryOps.unlinkIfPresent(temp)
            try DirectoryOps.removeTree(folder)
            return .placed
        }
        guard PosixFile.inode(temp) == note.inode else {
            // Neither: the object placed and since replaced, or its part lost. An exchange's
            // leftover (the replaced object) goes.
            try DirectoryOps.unlinkIfPresent(temp)
            throw ObjectStoreError.noSuchUpload(folder)
        }
        try PosixFile.truncate(temp, to: note.size)
        try DirectoryOps.restoreModificationTime(temp, note.modified)
        try DirectoryOps.rename(temp, to: "\(folder)/part-\(note.partNumber)")
        try DirectoryOps.unlinkIfPresent(notePath)
        return .parts
    }

    /// The staging folder of an upload, checked to belong to `key`.
    func uploadFolder(_ uploadID: String, key: String) throws -> String {
        guard !uploadID.isEmpty, uploadID.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw ObjectStoreError.noSuchUpload(uploadID)
        }
        let folder = "\(uploadsFolderPath)/\(uploadID)"
        guard let file = try? PosixFile.openForReading("\(folder)/key") else {
            throw ObjectStoreError.noSuchUpload(uploadID)
        }
        let stored = try file.read(at: 0, count: 4096)
        guard String(decoding: stored, as: UTF8.self) == key else { throw ObjectStoreError.noSuchUpload(uploadID) }
        return folder
    }
}
