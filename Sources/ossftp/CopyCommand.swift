import ArgumentParser
import Foundation
import OSSVFS

/// `ossftp cp`: copies one file between the local disk and a bucket, with the same client the
/// server uses. Credentials come from the environment: `OSS_ACCESS_KEY_ID`,
/// `OSS_ACCESS_KEY_SECRET` (and `OSS_SESSION_TOKEN`) for oss://, the AWS variables for s3://.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy a file to or from a bucket (oss://bucket/key or s3://bucket/key).")

    @Argument(help: "Source: a local path, - for standard input, or oss://bucket/key or s3://bucket/key.")
    var source: String

    @Argument(help: ArgumentHelp(
        "Destination: a local path or folder, - for standard output, or oss://bucket/key or s3://bucket/key.",
        discussion: "A key ending in / is a folder: the source's file name is added, as `cp` does."))
    var destination: String

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("part_size"), help: "Multipart part size in MiB.")
    var partSize: Int = 8

    @Option(help: "Parts uploaded at once.")
    var concurrency: Int = 8

    struct Remote {
        var provider: StoreFactory.Provider
        var bucket: String
        var key: String
    }

    static func remote(_ text: String) throws -> Remote? {
        for provider in [StoreFactory.Provider.oss, .s3] where text.hasPrefix("\(provider.rawValue)://") {
            let rest = text.dropFirst(provider.rawValue.count + 3)
            // `s3://bucket/` is the bucket's top folder.
            guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else {
                throw ValidationError("\(text): expected \(provider.rawValue)://bucket/key")
            }
            return Remote(provider: provider, bucket: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]))
        }
        return nil
    }

    func validate() throws {
        // S3 takes parts of 5 MiB to 5 GiB (all but the last); OSS from 100 KiB.
        guard (5...5120).contains(partSize) else { throw ValidationError("--part_size is in MiB, from 5 to 5120") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency is from 1 to 64") }
    }

    func run() async throws {
        // A signal ends the copy, but first aborts its multipart upload (the store would keep
        // the parts, unseen and billed) and removes a partial download. A second one does not wait.
        let leftovers = TransferLeftovers()
        let clearing = LockedBox(false)
        var signals: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signals += ServeCommand.onSignal(number) {
                let first = clearing.withValue { (clearing: inout Bool) -> Bool in
                    defer { clearing = true }
                    return !clearing
                }
                guard first else { Glibc.exit(128 + number) }
                Task {
                    for done in await leftovers.clear() { FileHandle.standardError.write(Data("ossftp cp: \(done)\n".utf8)) }
                    Glibc.exit(128 + number)
                }
            }
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await copy(leftovers: leftovers)
        } catch where clearing.value {
            // A signal came: the copy failed because its upload was aborted under it. The
            // signal's task exits with 128 + its number once the leftovers are cleared; this
            // error (NoSuchUpload) must not exit first with 1.
            while true { try? await Task.sleep(for: .seconds(60)) }
        } catch let ObjectStoreError.io(operation, code) {
            // A local file's error (or a socket's): said in words, not as a store's.
            throw CopyError(description: "\(operation): \(String(cString: strerror(code)))")
        } catch let error as ObjectStoreError {
            throw CopyError(VFSError(error, path: (try? Self.remote(source)) == nil ? destination : source))
        } catch let error as VFSError {
            throw CopyError(error)
        }
    }

    private func copy(leftovers: TransferLeftovers) async throws {
        let from = try Self.remote(source)
        let to = try Self.remote(destination)
        guard (from == nil) != (to == nil), let remote = from ?? to else {
            throw ValidationError("exactly one of source and destination must be a bucket URL")
        }
        try StoreOptions.requireEndpoint(store.endpoint, isS3: remote.provider == .s3)
        let credentials = try StoreOptions.environmentCredentials(for: remote.provider)
        let pathStyle: Bool?
        let checksum: StoreDialect.BodyChecksum
        do {
            pathStyle = try StoreOptions.pathStyle(store.addressing)
            checksum = try StoreOptions.s3Checksum(store.s3Checksum)
        } catch { throw ValidationError("\(error)") }
        let factory = StoreFactory(
            provider: remote.provider, endpoint: try store.endpoint.map { try StoreEndpoint($0) }, region: store.region,
            pathStyle: pathStyle, s3Checksum: checksum)
        // A local file that is missing or a folder is said before the store is asked anything
        // (an OSS bucket's region lookup took 11 s first).
        var sourceIsRegular = false
        if from == nil, source != "-" {
            guard let status = try PosixFile.status(source, followingLinks: true) else { throw CopyError(.notFound(source)) }
            guard !status.isDirectory else { throw CopyError(.isDirectory(source)) }
            sourceIsRegular = status.isRegular
        }
        let objectStore = try await factory.makeStore(bucket: remote.bucket, credentials: credentials)
        let isFolder = remote.key.isEmpty || remote.key.hasSuffix("/")
        if from == nil, source == "-" {
            guard !isFolder else {
                throw ValidationError("\(destination) is a folder: name the object standard input goes to")
            }
            let input = try PosixFile.duplicating(standard: STDIN_FILENO)
            try await ObjectTransfer.upload(stream: input, to: remote.key, store: objectStore, partSize: partSize << 20,
                                            concurrency: concurrency, leftovers: leftovers)
        } else if from == nil {
            // Into a folder (`s3://b/dir/`) the file keeps its name; a key ending in `/` would
            // be a folder marker with a body, which no listing shows as a file.
            let key = isFolder ? remote.key + (source as NSString).lastPathComponent : remote.key
            if sourceIsRegular {
                try await ObjectTransfer.upload(file: source, to: key, store: objectStore, partSize: partSize << 20,
                                                concurrency: concurrency, leftovers: leftovers)
            } else {
                // A pipe, FIFO or device (`<(command)`, /dev/stdin): read to its end, as `-`.
                let input = try PosixFile.openForReading(source)
                defer { try? input.close() }
                try await ObjectTransfer.upload(stream: input, to: key, store: objectStore, partSize: partSize << 20,
                                                concurrency: concurrency, leftovers: leftovers)
            }
        } else if isFolder {
            throw ValidationError("\(source) is a folder; cp copies one object")
        } else if destination == "-" {
            let output = try PosixFile.duplicating(standard: STDOUT_FILENO)
            try await ObjectTransfer.download(remote.key, from: objectStore, to: output)
        } else {
            var isDirectory: ObjCBool = false
            let intoFolder = FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory)
                && isDirectory.boolValue
            let name = remote.key.split(separator: "/").last.map(String.init) ?? remote.key
            try await ObjectTransfer.download(remote.key, from: objectStore,
                                              to: intoFolder ? (destination as NSString).appendingPathComponent(name) : destination,
                                              leftovers: leftovers)
        }
    }
}

/// A failed copy, said in words (the store's error code and request id kept), exit status 1.
struct CopyError: Error, CustomStringConvertible {
    var description: String

    init(description: String) {
        self.description = description
    }

    init(_ error: VFSError) {
        switch error {
        case .notFound(let path): description = "\(path): no such object or file"
        case .alreadyExists(let path): description = "\(path) already exists"
        case .notDirectory(let path): description = "\(path): not a directory"
        case .isDirectory(let path): description = "\(path) is a directory"
        case .directoryNotEmpty(let path): description = "\(path): directory not empty"
        case .permissionDenied(let reason): description = "permission denied: \(reason)"
        case .invalidName(let reason): description = "invalid name: \(reason)"
        case .nameTooLong(let reason): description = "name too long: \(reason)"
        case .invalidRange(let reason): description = "invalid range: \(reason)"
        case .unsupported(let reason): description = "not supported: \(reason)"
        case .integrity(let reason): description = "integrity check failed: \(reason)"
        case .noSpace(let reason): description = "no space left: \(reason)"
        case .tooLarge(let reason): description = "file too large: \(reason)"
        case .busy(let reason): description = "busy: \(reason)"
        case .storeUnavailable(let reason): description = "store unavailable: \(reason)"
        case .storeRefused(let reason): description = "refused by the store: \(reason)"
        case .storeFailure(let reason): description = "store error: \(reason)"
        }
    }
}
