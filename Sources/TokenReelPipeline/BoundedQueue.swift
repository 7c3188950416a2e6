import Foundation

/// A blocking first-in first-out queue holding at most `capacity` elements: the joint between
/// two stages. `push` blocks while the queue is full, which is how a slow stage pushes back on
/// the one before it and why memory stays flat however many videos there are.
///
/// Used from dedicated worker threads only (it blocks); never from Swift concurrency tasks.
public final class BoundedQueue<Element>: @unchecked Sendable {
    public let capacity: Int
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    private var _highWater = 0

    public init(capacity: Int) {
        precondition(capacity >= 1, "queue capacity must be at least 1")
        self.capacity = capacity
    }

    private var count: Int { items.count - head }

    /// Appends `element`, waiting while the queue is full. Returns false (dropping the element)
    /// when the queue was closed.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(element)
        _highWater = max(_highWater, count)
        condition.broadcast()
        return true
    }

    /// Removes the oldest element, waiting while the queue is empty and open. Returns nil once
    /// the queue is closed and drained.
    public func pop() -> Element? {
        popBatch(max: 1).first
    }

    /// Waits for at least one element, then takes up to `max` of those already queued, without
    /// waiting for more (batching never adds latency). Empty only once closed and drained.
    public func popBatch(max: Int) -> [Element] {
        condition.lock(); defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        let n = Swift.min(max, count)
        let batch = Array(items[head ..< head + n])
        head += n
        if head > 64 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return batch
    }

    /// No more pushes: waiting consumers drain what is left, then get nil.
    public func close() {
        condition.lock(); closed = true; condition.broadcast(); condition.unlock()
    }

    /// The most elements the queue has ever held (never above `capacity`).
    public var highWater: Int { condition.lock(); defer { condition.unlock() }; return _highWater }
}

/// Seconds of monotonic time, for stage busy-time accounting.
@inline(__always) func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// A value guarded by a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
}
