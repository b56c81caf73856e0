import Foundation
import OSSVFS

/// A SeaweedFS S3 server for the store tests, started once per test process through the
/// same harness the functional suite uses (tests/functional/seaweedfs_serve.py, run with the
/// project's .venv). It stops by itself when this process ends and closes the pipe.
actor SeaweedFSServer {
    struct Identity: Decodable, Sendable {
        let access_key: String
        let secret_key: String
    }

    struct Info: Decodable, Sendable {
        let endpoint: String
        let region: String
        let admin: Identity
        let readonly: Identity
    }

    static let shared = SeaweedFSServer()
    static let buckets = ["store-tests", "store-tests-2"]

    private var info: Info?
    private var process: Process?
    private var stdinPipe: Pipe?

    /// The running server, started on first use.
    func start() throws -> Info {
        if let info { return info }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("\(python) is missing: run `make test` (or `make deps`) to create the virtualenv")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("tests/functional/seaweedfs_serve.py").path]
            + Self.buckets.flatMap { ["--bucket", $0] }
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        var line: [UInt8] = []
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { throw HarnessError("SeaweedFS harness exited before it was ready") }
            if first == UInt8(ascii: "\n") { break }
            line.append(first)
        }
        let decoded = try JSONDecoder().decode(Info.self, from: Data(line))
        self.process = process
        self.stdinPipe = input
        self.info = decoded
        return decoded
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// Stores on the shared SeaweedFS.
enum SeaweedFSStores {
    static let transport = CurlTransport()

    static func store(bucket: String = SeaweedFSServer.buckets[0], readonly: Bool = false,
                      secret: String? = nil, keyID: String? = nil) async throws -> HTTPObjectStore {
        let info = try await SeaweedFSServer.shared.start()
        let identity = readonly ? info.readonly : info.admin
        let credentials = StoreCredentials(accessKeyID: keyID ?? identity.access_key,
                                           secretAccessKey: secret ?? identity.secret_key)
        return HTTPObjectStore(bucket: bucket, endpoint: try StoreEndpoint(info.endpoint),
                               dialect: .s3(region: info.region), credentials: credentials, transport: transport)
    }
}
