import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// The server side of FTPS on OpenSSL: one `SSL_CTX` with the certificate, TLS 1.2 and newer
/// only, and a server session cache, so that data connections can resume the control
/// connection's session (FileZilla Server and vsftpd require it; swift-nio-ssl has no
/// session-cache interface).
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads a PEM certificate chain and its private key. Throws a message naming the file.
    public init(certificatePath: String, keyPath: String) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot create a TLS context") }
        self.context = context
        guard cossl_ctx_set_min_tls12(context) == 1 else { throw TLSError("cannot require TLS 1.2") }
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw TLSError("cannot load the certificate \(certificatePath): \(Self.lastError())")
        }
        var askedForPassphrase: Int32 = 0
        let loaded = withUnsafeMutablePointer(to: &askedForPassphrase) { asked in
            cossl_ctx_refuse_passphrase(context, asked)
            defer { cossl_ctx_refuse_passphrase(context, nil) }
            return SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1
        }
        if askedForPassphrase != 0 {
            throw TLSError("the private key \(keyPath) is encrypted; ossftp needs it without a passphrase "
                + "(openssl pkey -in \(keyPath) -out plain-key.pem, then keep that file mode 600)")
        }
        guard loaded, SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError("cannot load the private key \(keyPath) (or it does not match): \(Self.lastError())")
        }
        // TLS 1.2: forward secrecy and AEAD only (Mozilla's "intermediate"); TLS 1.3's suites
        // are all such.
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw TLSError("cannot set the TLS 1.2 ciphers: \(Self.lastError())")
        }
        // DH parameters sized to the certificate, for the DHE suites.
        _ = cossl_ctx_set_dh_auto(context)
        _ = cossl_ctx_enable_server_session_cache(context)
        let name = Array("ossftp".utf8)
        _ = SSL_CTX_set_session_id_context(context, name, UInt32(name.count))
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// What an admin should hear of the certificate's dates at `now` (seconds since 1970):
    /// expired, not valid yet, or expiring within 14 days; nil when none of these. Clients
    /// that check certificates fail every handshake with such a one, which the server does
    /// not see.
    public func certificateWarning(now: time_t) -> String? {
        guard let certificate = SSL_CTX_get0_certificate(context),
            let notBefore = X509_get0_notBefore(certificate), let notAfter = X509_get0_notAfter(certificate)
        else { return nil }
        var moment = now
        if X509_cmp_time(notAfter, &moment) < 0 { return "expired on \(Self.format(notAfter))" }
        if X509_cmp_time(notBefore, &moment) > 0 { return "is not valid before \(Self.format(notBefore))" }
        var soon = now + 14 * 86_400
        if X509_cmp_time(notAfter, &soon) < 0 { return "expires on \(Self.format(notAfter))" }
        return nil
    }

    /// An ASN.1 time as `2026-11-30 10:40 UTC`.
    private static func format(_ time: UnsafePointer<ASN1_TIME>) -> String {
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return "an unreadable date" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)) UTC"
    }

    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(cString: buffer)
    }
}

/// A TLS set-up or handshake failure.
public struct TLSError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
