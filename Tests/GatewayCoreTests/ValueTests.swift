import Foundation
import Testing

@testable import GatewayCore

@Suite("Values")
struct ValueTests {
    @Test("Booking ids match [A-Za-z0-9._-]{1,64}", arguments: [
        ("B-1", true), ("a.b_c-9", true), (String(repeating: "x", count: 64), true),
        ("", false), (String(repeating: "x", count: 65), false), ("B 1", false), ("B/1", false), ("çé", false),
        ("B-1\n", false),
    ])
    func bookingIDs(_ raw: String, _ valid: Bool) {
        #expect((BookingID(raw) != nil) == valid)
    }

    @Test("E-mail addresses are a strict RFC 5321 subset", arguments: [
        ("maria@example.pt", true), ("maria.joao+video@seg-social.example.pt", true), ("o'neil@example.ie", true),
        ("maria@example.pt>,<postmaster", false), ("maria%evil.example@relay.example", false),
        ("\"maria\"@example.pt", false), ("maria joao@example.pt", false), ("maria@example", false),
        ("maria@-example.pt", false), ("maria@example..pt", false), (".maria@example.pt", false),
        ("maria..joao@example.pt", false), ("maria@[127.0.0.1]", false), ("maria(x)@example.pt", false),
        ("maria;x@example.pt", false), ("maria\\x@example.pt", false), ("maria@exa_mple.pt", false),
        ("maría@example.pt", false), ("maria@example.pt\r\nRCPT TO:<x@evil.example>", false),
        (String(repeating: "a", count: 65) + "@example.pt", false), ("@example.pt", false), ("maria@", false),
    ])
    func emailAddresses(_ raw: String, _ valid: Bool) {
        #expect(EmailAddressRule.isValid(raw) == valid)
    }

    @Test("A validation code has six digits and is kept only as a keyed hash (HMAC with a server key)")
    func accessCode() {
        let code = AccessCode.make()
        #expect(code.count == 6 && code.allSatisfy(\.isNumber))
        let hasher = AccessCodeHasher.random()
        let hash = hasher.hash(code)
        #expect(hasher.matches(code, hash))
        #expect(!hasher.matches(code == "000000" ? "000001" : "000000", hash))
        #expect(!hash.hash.contains(code))
        #expect(hasher.hash(code).salt != hash.salt)
        #expect(hash.scheme == "hmac-sha256")
        // Without the server key, every one of the 10^6 codes is searched in vain.
        #expect(!AccessCodeHasher.random().matches(code, hash))
        #expect(hasher.hash(code).generationMark != hash.generationMark)
    }

    @Test("Tokens carry at least 128 random bits")
    func tokens() {
        let token = SecureToken.make()
        #expect(token.count >= 22)
        #expect(token != SecureToken.make())
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test("Hex and base64url agree with their RFC 4648 test vectors")
    func encodings() {
        #expect([UInt8]().lowercaseHex == "")
        #expect([0x00, 0x0f, 0xa5, 0xff].lowercaseHex == "000fa5ff")
        #expect(Array("foobar".utf8).lowercaseHex == "666f6f626172")
        // RFC 4648 §10 vectors, unpadded, and the two characters base64url changes.
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Data(plain.utf8).base64URLEncodedString() == encoded)
            #expect(Data(base64URLEncoded: encoded) == Data(plain.utf8))
        }
        #expect(Data([0xfb, 0xff, 0xbf]).base64URLEncodedString() == "-_-_")
        #expect(Data(base64URLEncoded: "-_-_") == Data([0xfb, 0xff, 0xbf]))
    }

    @Test("Random bytes come in the length asked, every byte value appears, and no two draws repeat")
    func randomBytes() {
        for count in [0, 1, 7, 8, 9, 16, 24, 33] {
            #expect(SecureToken.randomBytes(count).count == count)
        }
        #expect(SecureToken.make(byteCount: 16).count == 22)
        // 4,096 draws of 8 bytes: each of the 256 values is expected 128 times; missing one is
        // (255/256)^32768 ≈ 1e-56 for a uniform generator.
        var seen = Set<UInt8>()
        var draws = Set<[UInt8]>()
        for _ in 0..<4096 {
            let draw = SecureToken.randomBytes(8)
            seen.formUnion(draw)
            draws.insert(draw)
        }
        #expect(seen.count == 256)
        #expect(draws.count == 4096)
    }

    @Test("Constant-time comparison agrees with equality")
    func constantTime() {
        #expect(SecureToken.constantTimeEquals("abc", "abc"))
        #expect(!SecureToken.constantTimeEquals("abc", "abd"))
        #expect(!SecureToken.constantTimeEquals("abc", "abcd"))
    }

    @Test("Job kinds keep stable stored names", arguments: [
        JobKind.provisionRoom, .updateRoom, .endRoom, .deleteRoom, .deadline(.joinWindowOpens), .deadline(.lateCheck),
        .deadline(.slotEnd), .deadline(.safetyCap), .citizenNotice(.invitation), .companionInvitation("companion-2"),
    ])
    func jobKindNames(_ kind: JobKind) {
        #expect(JobKind(kind.description) == kind)
    }

    @Test("Retries back off exponentially with bounded jitter, then give up")
    func retryPolicy() {
        let policy = RetryPolicy(maximumAttempts: 4, baseDelay: .seconds(2), maximumDelay: .seconds(5), jitter: 0.2)
        let now = Date(timeIntervalSince1970: 0)
        func delay(_ attempt: Int, _ random: Double) -> TimeInterval? {
            if case .retry(let at, _) = policy.resolution(afterFailedAttempt: attempt, error: "e", at: now, random: random) {
                return at.timeIntervalSince(now)
            }
            return nil
        }
        #expect(delay(1, 0.5) == 2)
        #expect(delay(2, 0.5) == 4)
        #expect(delay(3, 0.5) == 5)
        #expect(abs((delay(1, 0) ?? 0) - 1.6) < 0.001)
        #expect(abs((delay(1, 1) ?? 0) - 2.4) < 0.001)
        #expect(policy.resolution(afterFailedAttempt: 4, error: "e", at: now) == .dead(error: "e"))
        let honoured = policy.resolution(afterFailedAttempt: 1, error: "e", at: now, notBefore: now + .seconds(30), random: 0.5)
        #expect(honoured == .retry(at: now + .seconds(30), error: "e"))
    }

    @Test("Actors round-trip through their stored names")
    func actors() throws {
        for actor in [SessionActor.scheduler, .citizen, .system, .provider, .attendant(id: "a-\"17")] {
            let data = try JSONEncoder().encode(actor)
            #expect(try JSONDecoder().decode(SessionActor.self, from: data) == actor)
        }
    }
}
