import Testing
@testable import Commands

// `dataplane worker cpus LIST` and `dataplane worker realtime`: parsed, rendered in the
// canonical form, round-tripped, reset by `no`, bad lists refused with their place.

@Test func cpuListParsesAndFormats() {
    #expect(CPUList.parse("1") == [1])
    #expect(CPUList.parse("3,1,2") == [1, 2, 3])
    #expect(CPUList.parse("2-4,0,4") == [0, 2, 3, 4])
    #expect(CPUList.parse("1023") == [1023])
    for bad in ["", "1,", ",1", "a", "1-", "-1", "3-1", "1-2-3", "1024", "0-1024", "+1", "1 2", "١"] {
        #expect(CPUList.parse(bad) == nil, "\(bad)")
    }
    #expect(CPUList.format([1]) == "1")
    #expect(CPUList.format([0, 1]) == "0,1")
    #expect(CPUList.format([6, 0, 1, 2, 3, 9, 10]) == "0-3,6,9,10")
    for list in [[0], [1, 5], [0, 1, 2], [2, 3, 4, 8, 9, 10, 11, 20]] {
        #expect(CPUList.parse(CPUList.format(list)) == list)
    }
}

@Test func workerCPUsParseRenderAndReset() throws {
    #expect(DataplaneSettings().workerCPUs.isEmpty)
    #expect(!RunningConfig().render().contains("worker cpus"))
    let c = try ConfigParser.parse(text: "dataplane worker cpus 3,1-2\n")
    #expect(c.dataplane.workerCPUs == [1, 2, 3])
    #expect(c.render().contains("dataplane worker cpus 1-3\n"))
    #expect(try ConfigParser.parse(text: c.render()) == c)
    let one = try ConfigParser.parse(text: "dataplane workers 2\ndataplane worker cpus 1\n")
    #expect(one.dataplane.workers == 2 && one.dataplane.workerCPUs == [1])
    #expect(try ConfigParser.parse(text: one.render()) == one)
    #expect(try ConfigParser.parse(text: "dataplane worker cpus 1\nno dataplane worker cpus\n").dataplane.workerCPUs.isEmpty)
    #expect(try ConfigParser.parse(text: "dataplane worker cpus 1\nno dataplane worker cpus 1\n").dataplane.workerCPUs.isEmpty)
    // `worker` is a keyword of its own beside `workers`: the exact word wins.
    #expect(try ConfigParser.parse(text: "dataplane workers 4\n").dataplane.workers == 4)
}

@Test func badWorkerCPUListIsRejectedWithItsPlace() {
    expectConfigError("hostname a\ndataplane worker cpus 1-\n", line: 2, column: 23, "not a CPU list")
    expectConfigError("dataplane worker cpus 2048\n", line: 1, column: 23, "not a CPU list")
    expectConfigError("dataplane worker cpus\n", line: 1, column: 22, "Incomplete command")
}

@Test func workerRealtimeIsOffByDefaultAndRoundTrips() throws {
    #expect(!DataplaneSettings().workerRealtime)
    let on = try ConfigParser.parse(text: "dataplane worker realtime\n")
    #expect(on.dataplane.workerRealtime)
    #expect(on.render().contains("dataplane worker realtime\n"))
    #expect(try ConfigParser.parse(text: on.render()) == on)
    #expect(!(try ConfigParser.parse(text: "dataplane worker realtime\nno dataplane worker realtime\n").dataplane.workerRealtime))
    expectConfigError("dataplane worker realtime 5\n", line: 1, column: 27, "Invalid input detected")
}
