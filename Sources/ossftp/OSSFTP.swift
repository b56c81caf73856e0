import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The `ossftp` executable: parses arguments, reads config.json and wires the layers together.
struct OSSFTP: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ossftp",
        abstract: "Alibaba Cloud OSS and S3-compatible object storage over FTP.",
        version: version,
        subcommands: [ServeCommand.self, MountCommand.self, CopyCommand.self, ConfigCommand.self, PasswdCommand.self,
                      VersionCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// The entry point: hands Swift Concurrency to the event loops before any task runs.
@main
enum Entry {
    static func main() {
        // Tasks then run on the event-loop threads that do the socket I/O, so a control
        // command no longer crosses threads between the loop and the concurrency pool (a login
        // took three such hops per command). Blocking work stays on BlockingIO's queue.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        refuseHelpOfUnknownCommand(Array(CommandLine.arguments.dropFirst()))
        Task {
            await run()
            exit(0)
        }
        dispatchMain()
    }
}

/// Parses and runs the command, as `OSSFTP.main()` does, but an error a subcommand throws as it
/// runs (a credentials file others may read, a missing endpoint) is shown with that
/// subcommand's usage, not the bare `ossftp <subcommand>` line.
private func run() async {
    let command: any ParsableCommand
    do {
        command = try OSSFTP.parseAsRoot(SeedArguments.adapted(Array(CommandLine.arguments.dropFirst())))
    } catch {
        OSSFTP.exit(withError: error)
    }
    do {
        if var asynchronous = command as? any AsyncParsableCommand {
            try await asynchronous.run()
        } else {
            var synchronous = command
            try synchronous.run()
        }
    } catch let error as ValidationError {
        let subcommand = type(of: command)
        let name = (["ossftp"] + commandPath(to: subcommand, under: OSSFTP.self)).joined(separator: " ")
        FileHandle.standardError.write(Data(("Error: \(error.message)\n"
            + "Usage: \(OSSFTP.usageString(for: subcommand))\n  See '\(name) --help' for more information.\n").utf8))
        exit(64)
    } catch {
        OSSFTP.exit(withError: error)
    }
}

/// The names from `root` down to `command` (`["config", "check"]`); empty when not found.
private func commandPath(to command: any ParsableCommand.Type, under root: any ParsableCommand.Type) -> [String] {
    for child in root.configuration.subcommands {
        let name = child.configuration.commandName ?? String(describing: child).lowercased()
        if child == command { return [name] }
        let below = commandPath(to: command, under: child)
        if !below.isEmpty { return [name] + below }
    }
    return []
}

/// `ossftp help bogus`: the argument parser shows the general help and exits 0, so a script
/// that checks for a subcommand with `help` would take a typo for success. Exits 64 (EX_USAGE)
/// with the names there are.
private func refuseHelpOfUnknownCommand(_ arguments: [String]) {
    guard arguments.first == "help", arguments.count > 1, !arguments[1].hasPrefix("-") else { return }
    let names = OSSFTP.configuration.subcommands.compactMap { $0.configuration.commandName }
    guard !names.contains(arguments[1]) else { return }
    FileHandle.standardError.write(Data(
        "Error: no subcommand '\(arguments[1])'; there are: \(names.joined(separator: ", ")).\n".utf8))
    exit(64)
}

/// `ossftp version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("ossftp \(OSSFTP.version)")
    }
}
