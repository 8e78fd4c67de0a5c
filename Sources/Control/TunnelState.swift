// What the appliance keeps per live tunnel: the TUN device, its counters and
// the spec the engine was given.

import Engine
import Packet

final class TunnelState {
    var spec: TunnelSpec
    let device: TunDevice
    let counters: CounterBlock
    let interfaceIndex: Int32
    var connectPeer: String?
    var description: String?

    init(spec: TunnelSpec, device: TunDevice, counters: CounterBlock, interfaceIndex: Int32) {
        self.spec = spec
        self.device = device
        self.counters = counters
        self.interfaceIndex = interfaceIndex
    }
}
