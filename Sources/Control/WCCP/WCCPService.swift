// The WCCP router inside the appliance: started from `ip wccp ...` on apply,
// reconfigured in place (untouched service groups keep their caches),
// rebuilt when the router-id changes, stopped with the appliance. Like BGP it runs on the
// control thread's event loop and installs services in the engine directly.

import Commands
import Engine
import Netlink
import Observability
import NIOPosix
import Packet
import WCCP

extension Appliance {
    /// Starts, reconfigures or stops the WCCP endpoint to match `config.wccp`. Runs on the control thread.
    func applyWCCP() {
        let wanted = config.wccp
        guard !wanted.services.isEmpty, let routerID = wanted.routerID else {
            if wccpEndpoint != nil {
                stopWCCP()
                record("wccp stopped")
            } else if !wanted.services.isEmpty {
                record("wccp not started: 'ip wccp router-id A.B.C.D' is not configured")
            }
            return
        }
        if let endpoint = wccpEndpoint, endpoint.routerID == routerID,
           endpoint.reconfigure(wanted, accessLists: config.accessLists) {
            return
        }
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            record("wccp not started: apply must run on the control thread's event loop")
            return
        }
        stopWCCP()
        let hooks = WCCPEndpointHooks(
            install: { [weak self] specs in self?.setRedirectServices(specs) },
            record: { [weak self] event in self?.record(event, EventFields.wccp(event.hasPrefix("wccp: ") ? String(event.dropFirst(6)) : event)) },
            resolveL2: { [weak self] cache in self?.layer2Path(to: cache) })
        do {
            let endpoint = try WCCPEndpoint(eventLoop: loop, settings: wanted, accessLists: config.accessLists,
                                            routerID: routerID, hooks: hooks)
            wccpEndpoint = endpoint
            endpoint.start()
        } catch {
            record("wccp not started: \(error)")
        }
    }

    /// Stops the endpoint and withdraws its services (appliance shutdown, `no ip wccp`).
    func stopWCCP() {
        wccpEndpoint?.stop()
        wccpEndpoint = nil
    }

    /// Interface and MAC of a directly attached cache, from the kernel's neighbour table.
    func layer2Path(to cache: IPv4Address) -> RedirectMethod? {
        guard let route = try? netlink.routeLookup(to: .v4(cache)), route.gateway == nil,
              let index = route.interfaceIndex,
              let entry = (try? netlink.neighbours(index: index))?.first(where: { $0.address == .v4(cache) }),
              entry.state.isUsable, let mac = entry.macAddress, mac.count == 6 else { return nil }
        return .l2(interfaceIndex: index, mac: mac)
    }
}
