// The Prometheus endpoint: HTTP/1.1 on SwiftNIO (NIOHTTP1), GET /metrics
// answers with the text exposition format (0.0.4). It runs on the control
// thread's event loop, so the page is built from the appliance's state
// without locks; the engine's per-worker counter rows are summed then.

import NIOCore
import NIOHTTP1
import NIOPosix

final class MetricsServer: @unchecked Sendable {
    /// Open connections at most (a scraper or two, a curl); the next one is closed at once
    /// and counted. Bounds the memory a connection flood can take.
    static let defaultMaxConnections = 16
    /// A kept-alive connection that sends nothing for this long is closed.
    static let defaultIdleTimeout = TimeAmount.seconds(30)

    let eventLoop: EventLoop
    let address: String
    let port: Int
    let maxConnections: Int
    let idleTimeout: TimeAmount
    var channel: Channel?
    /// Builds the page (on the event loop).
    let render: () -> String
    /// Connections open now, and refused because `maxConnections` were (event loop only).
    private(set) var openConnections = 0
    private(set) var connectionsRefused: UInt64 = 0

    init(eventLoop: EventLoop, address: String, port: Int,
         maxConnections: Int = MetricsServer.defaultMaxConnections,
         idleTimeout: TimeAmount = MetricsServer.defaultIdleTimeout,
         render: @escaping () -> String) {
        self.eventLoop = eventLoop
        self.address = address
        self.port = port
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.render = render
    }

    /// Admits a new connection or closes it (child channels run on our event loop).
    private func admit(_ channel: Channel) -> EventLoopFuture<Void> {
        guard openConnections < maxConnections else {
            connectionsRefused &+= 1
            return channel.close()
        }
        openConnections += 1
        channel.closeFuture.whenComplete { [self] _ in openConnections -= 1 }
        let idle = idleTimeout
        return channel.pipeline.configureHTTPServerPipeline().flatMapThrowing { [render] in
            try channel.pipeline.syncOperations.addHandlers([
                IdleStateHandler(allTimeout: idle), MetricsHTTPHandler(render: render),
            ])
        }
    }

    /// Binds without blocking (we run on the event loop); `done` gets the
    /// bind's outcome there.
    func start(_ done: @escaping (Result<Void, Error>) -> Void) {
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 32)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in admit(channel) }
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
