import GatewayCore

/// An authenticated attendant, from the claims of their token.
public struct AttendantIdentity: Sendable, Equatable {
    public let id: String
    public let name: String?
    /// Services served; `*` means all.
    public let services: Set<String>
    public let roles: Set<String>
    /// The attendant's account in the agency's directory (e.g. Entra's `oid`), when the deployment names
    /// the claim that carries it (`ATTENDANT_DIRECTORY_ID_CLAIM`): the identity providers know them by.
    public let directoryID: String?

    public init(id: String, name: String?, services: Set<String>, roles: Set<String>, directoryID: String? = nil) {
        self.id = id
        self.name = name
        self.services = services
        self.roles = roles
        self.directoryID = directoryID
    }

    /// Who the provider is told the host is: the directory account when known, else the token's subject.
    public var providerIdentity: String { directoryID ?? id }

    public var isSupervisor: Bool { roles.contains("supervisor") }

    /// Sessions assigned to me, or unassigned in my services; a supervisor sees every session of their services.
    public func canSee(_ session: Session) -> Bool {
        canSee(service: session.booking.service, assignedTo: session.booking.attendantID)
    }

    public func canSee(service: String, assignedTo attendantID: String?) -> Bool {
        guard services.contains("*") || services.contains(service) else { return false }
        if isSupervisor { return true }
        return attendantID == nil || attendantID == id
    }
}
