import CCurl
import Foundation
import Synchronization
import SessionOrchestration

/// Hands a message to a mail server.
public protocol MailTransport: Sendable {
    func send(_ message: MailMessage) async throws
}

/// How to reach the mail relay: `SMTP_URL` (`smtp://host:port`, or `smtps://` for implicit TLS),
/// STARTTLS and AUTH when configured.
public struct SMTPConfiguration: Sendable {
    public var url: String
    public var username: String?
    public var password: String?
    /// On `smtp://`, STARTTLS is always used when the relay offers it; with this it is required (the
    /// send fails before anything, credentials included, goes out in clear).
    public var requiresStartTLS: Bool
    /// A PEM file of the certificate authorities that may sign the relay's certificate (a private CA);
    /// `nil`: the system's.
    public var caFile: String?
    public var timeout: Duration

    public init(
        url: String, username: String? = nil, password: String? = nil, requiresStartTLS: Bool = false,
        caFile: String? = nil, timeout: Duration = .seconds(30)
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.requiresStartTLS = requiresStartTLS
        self.caFile = caFile
        self.timeout = timeout
    }
}

/// SMTP through libcurl's easy interface. libcurl blocks, so each send runs on a thread of its own,
/// never on the threads of Swift's concurrency pool or Dispatch's shared ones: a relay that hangs holds
/// its own threads, not the gateway. At most `maximumConcurrentSends` run at once; the others wait
/// without holding a thread. The easy handles of successful sends are kept for the next ones: libcurl
/// keeps each one's connection to the relay open, so a burst of messages (a thousand late citizens)
/// skips a connection, `EHLO` and STARTTLS per message. A failed send drops its handle and connection.
/// libcurl itself is loaded by the first send (see `CCurl.h`).
public final class CurlSMTPMailer: MailTransport {
    private let configuration: SMTPConfiguration
    private let slots: AsyncSlots
    private let maximumIdleHandles: Int
    private let idleHandles = Mutex<[EasyHandle]>([])

    public init(configuration: SMTPConfiguration, maximumConcurrentSends: Int = 8) {
        self.configuration = configuration
        slots = AsyncSlots(maximumConcurrentSends)
        maximumIdleHandles = max(1, maximumConcurrentSends)
    }

    /// One libcurl easy handle, with the connection libcurl keeps open on it.
    private final class EasyHandle: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer

        init?() {
            guard let raw = ccurl_easy_init() else { return nil }
            self.raw = raw
        }

        deinit { ccurl_easy_cleanup(raw) }
    }

    /// A kept handle (its options cleared, its connection kept), or a new one.
    private func takeHandle() -> EasyHandle? {
        if let kept = idleHandles.withLock({ $0.popLast() }) {
            ccurl_easy_reset(kept.raw)
            return kept
        }
        return EasyHandle()
    }

    private func keep(_ handle: EasyHandle) {
        idleHandles.withLock { idle in
            if idle.count < maximumIdleHandles { idle.append(handle) }
        }
    }

    public func send(_ message: MailMessage) async throws {
        await slots.acquire()
        defer { slots.release() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                do {
                    try self.sendBlocking(message)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "smtp-send"
            thread.start()
        }
    }

    private final class Reader {
        let bytes: [UInt8]
        var offset = 0

        init(_ data: Data) { bytes = Array(data) }
    }

    private func sendBlocking(_ message: MailMessage) throws {
        guard let easy = takeHandle() else {
            throw NotificationError.temporary("smtp: libcurl unavailable: \(String(cString: ccurl_load_error()))")
        }
        let handle = easy.raw
        let reader = Reader(message.rendered())
        var recipients: UnsafeMutablePointer<curl_slist>? = ccurl_slist_append(nil, "<\(message.to.address)>")
        defer { ccurl_slist_free_all(recipients) }

        let timeoutMilliseconds = Int(configuration.timeout.components.seconds * 1000)
        var codes: [CURLcode] = [
            ccurl_setopt_string(handle, CURLOPT_URL, configuration.url),
            ccurl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(message.from.address)>"),
            ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients),
            ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1),
            ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
            ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds),
            ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMilliseconds, 10_000)),
            ccurl_setopt_read_callback(handle) { buffer, size, count, context in
                guard let buffer, let context else { return 0 }
                let reader = Unmanaged<Reader>.fromOpaque(context).takeUnretainedValue()
                let length = min(size * count, reader.bytes.count - reader.offset)
                guard length > 0 else { return 0 }
                reader.bytes.withUnsafeBufferPointer { source in
                    UnsafeMutableRawPointer(buffer).copyMemory(
                        from: source.baseAddress! + reader.offset, byteCount: length)
                }
                reader.offset += length
                return length
            },
            ccurl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(reader).toOpaque()),
        ]
        // STARTTLS whenever the relay offers it; required when configured (and always with credentials).
        let tls = configuration.requiresStartTLS ? CURLUSESSL_ALL : CURLUSESSL_TRY
        codes.append(ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(tls.rawValue)))
        if let caFile = configuration.caFile {
            codes.append(ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile))
        }
        if let username = configuration.username {
            codes.append(ccurl_setopt_string(handle, CURLOPT_USERNAME, username))
            codes.append(ccurl_setopt_string(handle, CURLOPT_PASSWORD, configuration.password ?? ""))
        }
        guard codes.allSatisfy({ $0 == CURLE_OK }) else { throw NotificationError.permanent("smtp: invalid settings") }

        let result = withExtendedLifetime(reader) { ccurl_easy_perform(handle) }
        recipients = recipients ?? nil
        guard result != CURLE_OK else {
            keep(easy)
            return
        }
        let reply = ccurl_response_code(handle)
        let reason = "smtp: \(String(cString: ccurl_easy_strerror(result)))" + (reply > 0 ? " (\(reply))" : "")
        switch result {
        case CURLE_LOGIN_DENIED, CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            throw NotificationError.permanent(reason)
        default:
            if (500..<600).contains(reply) { throw NotificationError.permanent(reason) }
            throw NotificationError.temporary(reason)
        }
    }
}

/// A counting semaphore whose waiters suspend instead of blocking a thread.
final class AsyncSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: max(1, count))) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiters.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
