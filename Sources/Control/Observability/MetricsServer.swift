// The Prometheus endpoint: HTTP/1.1 on SwiftNIO (NIOHTTP1), GET /metrics
// answers with the text exposition format (0.0.4). It runs on the control
// thread's event loop, so the page is built from the appliance's state
// without locks; the engine's per-worker counter rows are summed then.

import NIOCore
import NIOHTTP1
import NIOPosix

final class MetricsServer: @unchecked Sendable {
    let eventLoop: EventLoop
    let address: String
    let port: Int
    var channel: Channel?
    /// Builds the page (on the event loop).
    let render: () -> String

    init(eventLoop: EventLoop, address: String, port: Int, render: @escaping () -> String) {
        self.eventLoop = eventLoop
        self.address = address
        self.port = port
        self.render = render
    }

    /// Binds without blocking (we run on the event loop); `done` gets the
    /// bind's outcome there.
    func start(_ done: @escaping (Result<Void, Error>) -> Void) {
        let render = self.render
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 32)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render))
                }
            }
        bootstrap.bind(host: address, port: port).whenComplete { [self] result in
            switch result {
            case .success(let c):
                channel = c
                done(.success(()))
            case .failure(let e):
                done(.failure(e))
            }
        }
    }

    func stop() {
        channel?.close(promise: nil)
        channel = nil
    }
}

/// Answers GET/HEAD /metrics; 404 for other paths, 405 for other methods.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    let render: () -> String
    var head: HTTPRequestHead?

    init(render: @escaping () -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let path = h.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? h.uri
            let (status, type, body): (HTTPResponseStatus, String, String)
            if h.method != .GET && h.method != .HEAD {
                (status, type, body) = (.methodNotAllowed, "text/plain", "only GET\n")
            } else if path == "/metrics" {
                (status, type, body) = (.ok, Self.contentType, render())
            } else if path == "/" {
                (status, type, body) = (.ok, "text/html", "<html><body><a href=\"/metrics\">egressd metrics</a></body></html>\n")
            } else {
                (status, type, body) = (.notFound, "text/plain", "not found; try /metrics\n")
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            if !h.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
            if h.method != .HEAD {
                var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
                buffer.writeString(body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let keepAlive = h.isKeepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
