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
            let first = try Self.text(Self.bytes(getpass("Password: ")))
            let second = try Self.text(Self.bytes(getpass("Again: ")))
            guard first == second else { throw ValidationError("the two passwords differ") }
            password = first
        } else {
            password = try Self.text(Self.firstLine())
        }
        guard !password.isEmpty else { throw ValidationError("the password is empty") }
        print(PasswordVerifier.hashing(password, iterations: iterations).storedForm)
    }

    /// The bytes as text. Bytes that are not UTF-8 would be hashed as U+FFFD, a password no
    /// client can send (a login's PASS must be UTF-8, RFC 2640): refused instead.
    private static func text(_ bytes: [UInt8]) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError("the password is not valid UTF-8; FTP clients send passwords as UTF-8")
        }
        return text
    }

    /// The bytes of a C string (getpass's answer).
    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?) -> [UInt8] {
        guard let pointer else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }

    /// Standard input's first line, without its line end.
    private static func firstLine() -> [UInt8] {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(STDIN_FILENO, &byte, 1) == 1 && byte != 0x0A { line.append(byte) }
        if line.last == 0x0D { line.removeLast() }
        return line
    }
}
