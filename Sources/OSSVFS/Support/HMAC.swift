import COpenSSL
import Foundation

/// Keyed hashes and encodings the request signers need, from OpenSSL's libcrypto.
public enum Crypto {
    /// HMAC-SHA1 of `message` under `key`.
    public static func hmacSHA1(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        hmac(EVP_sha1(), key: key, message)
    }

    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        hmac(EVP_sha256(), key: key, message)
    }

    private static func hmac(_ md: OpaquePointer?, key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                HMAC(md, keyBytes.baseAddress, Int32(key.count), messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                     message.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        hexString(Digest.hash(.sha256, bytes))
    }

    /// Base64 of the MD5 of `bytes`, as in a `Content-MD5` header.
    public static func contentMD5(_ bytes: [UInt8]) -> String {
        Data(Digest.hash(.md5, bytes)).base64EncodedString()
    }

    /// Base64 encoding.
    public static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}

/// Percent-encoding for signed URLs: every byte outside `A–Z a–z 0–9 - . _ ~` becomes `%XX`
/// (upper-case hex), as OSS V4 and AWS SigV4 canonical forms require (RFC 3986 §2.3).
public enum URIEncoding {
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a listing's `encoding-type=url` value: `%XX` sequences, and `+` as a space
    /// where `plusIsSpace`. S3 servers (SeaweedFS among them) write a space as `+` and a plus
    /// as `%2B`. OSS writes both as `%XX` in keys; a bare `+` from it (a base64 continuation
    /// token's) is a plus, as oss2 reads it.
    public static func decode(_ text: String, plusIsSpace: Bool = true) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return text }
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let value = bytesFromHex(String(decoding: bytes[index + 1...index + 2], as: UTF8.self))?.first
            {
                out.append(value)
                index += 3
            } else {
                out.append(plusIsSpace && bytes[index] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
