/// Waits for work at most a given time.
enum TimeLimit {
    /// The outcome of `work`, or nil when `limit` passes first. The work is not stopped (the
    /// store's calls do not stop for a cancelled task): it goes on, and its outcome is dropped.
    static func outcome<T: Sendable>(within limit: Duration, of work: @escaping @Sendable () async throws -> T) async
        -> Result<T, any Error>?
    {
        await withCheckedContinuation { continuation in
            let waiting = LockedBox<CheckedContinuation<Result<T, any Error>?, Never>?>(continuation)
            @Sendable func settle(_ outcome: Result<T, any Error>?) {
                waiting.withValue { pending in
                    defer { pending = nil }
                    return pending
                }?.resume(returning: outcome)
            }
            Task {
                do { settle(.success(try await work())) } catch { settle(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: limit)
                settle(nil)
            }
        }
    }
}
