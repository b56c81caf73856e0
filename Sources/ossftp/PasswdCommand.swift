import ArgumentParser
import Foundation
import OSSVFS

/// `ossftp passwd`: prints the hashed form of a password, for an account's `login_password`.
struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Print the salted hash of a password for config.json's login_password.",
        discussion: """
            Reads the password from standard input (one line), or asks for it twice when standard \
            input is a terminal. Prints pbkdf2-sha256$<iterations>$<salt>$<key>, which ossftp checks \
            logins against; the password itself is stored nowhere.
            """)

    @Option(help: "PBKDF2-HMAC-SHA256 iterations.")
    var iterations: Int = PasswordVerifier.defaultIterations

    func validate() throws {
        guard (1_000...10_000_000).contains(iterations) else {
            throw ValidationError("--iterations must be between 1000 and 10000000")
        }
    }

    func run() throws {
        let password: String
        if isatty(STDIN_FILENO) == 1 {
            let first = String(cString: getpass("Password: "))
            let second = String(cString: getpass("Again: "))
            guard first == second else { throw ValidationError("the two passwords differ") }
            password = first
        } else {
            password = readLine(strippingNewline: true) ?? ""
        }
        guard !password.isEmpty else { throw ValidationError("the password is empty") }
        print(PasswordVerifier.hashing(password, iterations: iterations).storedForm)
    }
}
