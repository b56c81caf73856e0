/// Waits for work at most a given time.
public enum TimeLimit {
    /// The outcome of `work`, or nil when `limit` passes first. The work is not stopped (the
    /// store's calls do not stop for a cancelled task): it goes on, and its outcome is dropped.
    public static func outcome<T: Sendable>(within limit: Duration, of work: @escaping @Sendable () async throws -> T) async
        -> Result<T, any Error>?
    {
        await withCheckedContinuation { continuation in
            let waiting = LockedBox<CheckedContinuation<Result<T, any Error>?, Never>?>(continuation)
            let timer = LockedBox<Task<Void, Never>?>(nil)
            @Sendable func settle(_ outcome: Result<T, any Error>?) {
                waiting.withValue { pending in
                    defer { pending = nil }
                    return pending
                }?.resume(returning: outcome)
                // The timer goes with the outcome (it would otherwise sleep on, one per call).
                timer.value?.cancel()
            }
            timer.withValue { timer in
                timer = Task {
                    try? await Task.sleep(for: limit)
                    if !Task.isCancelled { settle(nil) }
                }
            }
            Task {
                do { settle(.success(try await work())) } catch { settle(.failure(error)) }
            }
        }
    }
}
