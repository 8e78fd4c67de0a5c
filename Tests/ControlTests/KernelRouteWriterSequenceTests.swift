import NIOCore
import NIOPosix
import Packet
import Testing
@testable import Control

// The kernel writer's catch-up report, which `bgp update-delay` waits for: `behind` counts the
// changes queued and not yet finished, and `onCaughtUp` runs on the loop when the queue is empty.
// The kernel is never touched: the changes are writes whose group has no usable next hop (the
// writer's `resolve` gives none), which the writer skips, so its batches are empty.

/// Touched on the loop only.
private final class Count: @unchecked Sendable { var value = 0 }

@Suite struct KernelRouteWriterSequenceTests {
    @Test(.timeLimit(.minutes(1)))
    func behindCountsQueuedChangesUntilTheWriterCatchesUp() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let writer = try await loop.submit { try KernelRouteWriter(loop: loop) }.get()
        let caughtUp = Count()
        let queued = try await loop.submit {
            writer.onCaughtUp = { caughtUp.value += 1 }
            #expect(writer.resolve(0).isEmpty)
            let unroutable = ["192.0.2.0/24", "198.51.100.0/25", "203.0.113.0/26"].map {
                KernelChange(prefix: IPPrefix($0)!, group: 0, countDelta: 1)
            }
            writer.enqueue(unroutable)
            return writer.behind
        }.get()
        #expect(queued == 3)
        let deadline = ContinuousClock.now + .seconds(20)
        while try await loop.submit({ writer.behind }).get() != 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await loop.submit { writer.behind }.get() == 0)
        #expect(try await loop.submit { caughtUp.value }.get() == 1)
        // More changes: behind again, then caught up again.
        try await loop.submit { writer.enqueue([KernelChange(prefix: IPPrefix("192.0.2.128/25")!, group: 0, countDelta: 1)]) }.get()
        while try await loop.submit({ writer.behind }).get() != 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await loop.submit { writer.behind }.get() == 0)
        #expect(try await loop.submit { caughtUp.value }.get() == 2)
        // Nothing was installed.
        #expect(try await loop.submit { writer.installed }.get() == 0)
        try await loop.submit { writer.stop() }.get()
        try await group.shutdownGracefully()
    }
}
