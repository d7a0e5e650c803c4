import Hummingbird

/// The request context of every gateway route: request bodies are limited to 64 KiB.
public struct GatewayRequestContext: RequestContext {
    public static let maximumBodySize = 64 * 1024

    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { Self.maximumBodySize }
}
