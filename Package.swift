// swift-tools-version:6.0
// ossftp: Alibaba Cloud OSS and S3-compatible object storage behind FTP/FTPS and FUSE.
//
// Targets are layers with one-way dependencies:
//   CCurl, COpenSSL, CFuse3   system libraries (pkg-config)
//   CLinux, CMalloc, CChecksum  header shims: Linux calls, malloc tuning, CRC-32C instructions
//   OSSVFS                    object stores, key mapping, the VFS both frontends use (no FTP, FUSE or NIO)
//   FTPFrontend               the FTP server on SwiftNIO, over OSSVFS
//   FuseFrontend              the FUSE mount on libfuse3, over OSSVFS
//   Console                   the web console and /metrics on Hummingbird (no FTP, FUSE or store)
//   ossftp                    the executable: arguments, config.json, wiring
import PackageDescription

let package = Package(
    name: "ossftp",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ossftp", targets: ["ossftp"]),
        .library(name: "OSSVFS", targets: ["OSSVFS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CChecksum"),
        .target(
            name: "OSSVFS",
            dependencies: [
                "CCurl", "COpenSSL", "CLinux", "CChecksum",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "FTPFrontend",
            dependencies: [
                "OSSVFS", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Console",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "FuseFrontend", dependencies: ["OSSVFS", "CFuse3"]),
        .executableTarget(
            name: "ossftp",
            dependencies: [
                "OSSVFS", "FTPFrontend", "FuseFrontend", "Console", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Helpers the test targets share (temporary folders), not shipped.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "OSSVFSTests", dependencies: ["OSSVFS", "TestSupport"]),
        .testTarget(
            name: "FTPFrontendTests",
            dependencies: [
                "FTPFrontend", "OSSVFS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "FuseFrontendTests", dependencies: ["FuseFrontend", "OSSVFS", "TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console"]),
    ],
    swiftLanguageModes: [.v5]
)
