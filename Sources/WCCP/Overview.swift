// WCCPv2 router, pure core (no I/O). egressd is the ROUTER; Squid is the cache.
//
//   Messages/    wire codec: header, components, elements, the four messages (decode never traps)
//   Security/    MD5 signing/verification (password NUL-padded to 8 octets)
//   Assignment/  bucket hash, mask/value matching, RedirectTable (what the engine reads per packet)
//   Router/      WCCPRouter state machine: datagrams + tick(now:) in, WCCPRouterAction out
//
// The UDP endpoint (SwiftNIO, port 2048) feeds `WCCPRouter.receive(_:from:now:groupListPermits:)`,
// calls `tick(now:)` about once a second, sends `.send` datagrams to cache:2048, and installs
// `.assignmentChanged` tables in the engine. Facts and quirks: /work/shared/references/specs.md §2,
// squid-wccp.md.
