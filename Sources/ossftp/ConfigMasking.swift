import Foundation

/// config.json with its secrets replaced, for the console: what an operator may see on a
/// screen shared with others.
enum ConfigMasking {
    /// Keys whose values are secrets (passwords, their hashes, store secrets, tokens).
    static let secretKeys: Set<String> = ["access_secret", "login_password", "password", "token", "secret",
                                          "access_key_secret"]

    /// The secret keys whose value may be `env:NAME` or `file:PATH` (``ServeSettings/secret(_:field:relativeTo:)``).
    static let referenceKeys: Set<String> = ["access_secret", "token"]

    /// The masked, pretty-printed document; nil when `data` is not JSON.
    static func masked(_ data: Data) -> String? {
        guard let root = try? JSONSerialization.jsonObject(with: data) else { return nil }
        let cleaned = mask(root)
        guard let out = try? JSONSerialization.data(withJSONObject: cleaned, options: [.prettyPrinted, .sortedKeys])
        else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    static func mask(_ value: Any, key: String? = nil) -> Any {
        if let object = value as? [String: Any] {
            return object.reduce(into: [String: Any]()) { $0[$1.key] = mask($1.value, key: $1.key) }
        }
        if let array = value as? [Any] { return array.map { mask($0, key: key) } }
        if let key, secretKeys.contains(key), let text = value as? String, !text.isEmpty {
            // A reference says where the secret is, not what it is: shown, in the fields that
            // take one. A password is always itself, whatever it begins with.
            if referenceKeys.contains(key) && ServeSettings.isReference(text) { return text }
            return "********"
        }
        return value
    }
}
