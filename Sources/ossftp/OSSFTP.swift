import ArgumentParser

/// The `ossftp` executable: parses arguments, reads config.json and wires the layers together.
@main
struct OSSFTP: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ossftp",
        abstract: "Alibaba Cloud OSS and S3-compatible object storage over FTP.",
        version: version,
        subcommands: [ServeCommand.self, MountCommand.self, CopyCommand.self, VersionCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// `ossftp version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("ossftp \(OSSFTP.version)")
    }
}
