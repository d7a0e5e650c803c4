import Foundation

/// Something that happened to a session: a command from a user, a provider answer or a deadline.
public enum SessionEvent: Sendable, Equatable {
    /// The scheduler sent a booking that differs from the stored one.
    case bookingUpdated(Booking)
    case cancelled(by: SessionActor)
    /// The provider created a room; its id is kept before anything else can fail, so a retry finds it.
    case roomCreated(providerRoomID: String)
    /// The provider created the room and recording was read back off.
    case roomProvisioned(providerRoomID: String, url: String?)
    case roomProvisioningFailed(code: String, message: String)
    /// The provider confirmed the room is gone.
    case roomDeleted
    /// Deleting or ending the room failed; `isFinal` when no retry follows.
    case roomDeleteFailed(code: String, message: String, isFinal: Bool)
    case roomEnded
    /// The provider took (or renewed) the subscription to the room's recordings, until `expiresAt`.
    case recordingSubscribed(subscriptionID: String, expiresAt: Date)
    /// The provider no longer has the live session's room (deleted behind the gateway's back): make it again.
    case roomMissing
    case joinWindowOpened
    case citizenEntered
    case citizenLeft
    /// The attendant admitted the citizen; `citizenEntryURL` is the provider entry minted for them.
    case admitted(attendantID: String, citizenEntryURL: String?)
    case ended(SessionOutcome, by: SessionActor)
    case lateCheckDue
    case slotEnded
    case safetyCapReached
    /// A fallback went out.
    case fallbackSent(FallbackChannel)
    /// A fallback attempt failed; `isFinal` when no retry follows.
    case fallbackFailed(FallbackChannel, reason: String, isFinal: Bool)
    /// The retention period ended: erase the citizen's personal data.
    case personalDataExpired
    /// The provider reported that a recording started: it is stopped, or the room ended where the
    /// provider cannot stop it (recording must stay off).
    case recordingStarted
    /// The provider accepted the call that stops the recording.
    case recordingStopped
    /// A wrong validation code was entered on a participant's link; enough of them in a row lock it.
    case codeRejected(Participant)
    /// The right validation code was entered on a participant's link: the wrong ones are forgotten.
    case codeAccepted(Participant)
    /// A participant's validation code was replaced (by its hash); their wrong codes and lock are forgotten.
    case codeRotated(Participant, codeHash: AccessCodeHash)
    /// A companion (`companion-1`, `companion-2`) entered the lobby.
    case companionEntered(String)
    /// A companion waiting in the lobby was not present for the presence grace (a closed page, a lost
    /// connection); entering again (`companionEntered`) brings them back.
    case companionLeft(String)
    /// The attendant admitted a waiting companion; `entryURL` is the provider entry minted for them.
    case companionAdmitted(String, entryURL: String)
    /// The attendant wrote to the waiting citizen.
    case messagePosted(text: String)
    /// The attendant asked for a fallback on this channel (the citizen has not come in).
    case fallbackRequested(FallbackChannel)
    /// The attendant saved the attendance script.
    case scriptSaved(AttendanceScript)
    /// An admitted participant got a fresh provider entry while the call is on.
    case entryRenewed(Participant, entryURL: String)
    /// Something kept in the session's audit trail under this name that changes nothing else
    /// (`host_link_issued`, `orphan_room_deleted`).
    case auditOnly(String)

    /// Written to the audit trail even when it changes nothing on the session.
    public var isAlwaysAudited: Bool {
        switch self {
        case .recordingStopped, .scriptSaved, .entryRenewed, .auditOnly: true
        default: false
        }
    }

    /// Kept off the audit trail: a right code only forgets the wrong ones (the entry itself is audited).
    public var isAudited: Bool {
        if case .codeAccepted = self { return false }
        return true
    }

    /// A short stable name for audit records and logs.
    public var name: String {
        switch self {
        case .bookingUpdated: "booking_updated"
        case .cancelled: "cancelled"
        case .roomCreated: "room_created"
        case .roomProvisioned: "room_provisioned"
        case .roomProvisioningFailed: "room_provisioning_failed"
        case .roomDeleted: "room_deleted"
        case .roomDeleteFailed: "room_delete_failed"
        case .roomEnded: "room_ended"
        case .roomMissing: "room_missing"
        case .recordingSubscribed: "recording_subscribed"
        case .joinWindowOpened: "join_window_opened"
        case .citizenEntered: "citizen_entered"
        case .citizenLeft: "citizen_left"
        case .admitted: "admitted"
        case .ended: "ended"
        case .lateCheckDue: "late_check_due"
        case .slotEnded: "slot_ended"
        case .safetyCapReached: "safety_cap_reached"
        case .fallbackSent: "fallback_sent"
        case .fallbackFailed: "fallback_failed"
        case .personalDataExpired: "personal_data_expired"
        case .recordingStarted: "recording_started"
        case .recordingStopped: "recording_stopped"
        case .codeRejected: "code_rejected"
        case .codeAccepted: "code_accepted"
        case .codeRotated: "access_code_rotated"
        case .companionEntered(let id): "\(id)_entered"
        case .companionLeft(let id): "\(id)_left"
        case .companionAdmitted(let id, _): "\(id)_admitted"
        case .messagePosted: "message_posted"
        case .fallbackRequested: "fallback_requested"
        case .scriptSaved: "script_saved"
        case .entryRenewed(let participant, _): "\(participant)_rejoined"
        case .auditOnly(let name): name
        }
    }
}

/// Work the caller must carry out after a transition; the state machine itself does no I/O.
public enum SessionAction: Sendable, Equatable {
    /// Create (or get) the provider room for the current generation.
    case provisionRoom
    /// Move the provider room to the booking's new slot.
    case updateRoom
    /// End the call in the provider room, then delete it.
    case endRoom
    /// Subscribe to the room's recordings (providers that report them only to subscribers), now or,
    /// for a renewal, at the given date.
    case watchRecordings(at: Date?)
    /// Stop a recording running in the provider room (or end the room where that is impossible).
    case stopRecording
    /// Delete the provider room.
    case deleteRoom
    /// Arm a deadline for the current generation.
    case scheduleDeadline(Deadline, at: Date)
    /// Drop every pending deadline of the session (cancel).
    case cancelDeadlines
    /// Reach the late citizen on this channel.
    case sendFallback(FallbackChannel)
    /// E-mail the citizen about the booking.
    case notifyCitizen(CitizenNotice)
    /// Tell the scheduler, through its callback URL.
    case notifyScheduler(SchedulerEvent)
}

/// The timed rules of DESIGN §2.
public enum Deadline: String, Sendable, Codable, CaseIterable {
    case joinWindowOpens = "join_window_opens"
    case lateCheck = "late_check"
    case slotEnd = "slot_end"
    case safetyCap = "safety_cap"
    case personalDataPurge = "personal_data_purge"

    /// The event the deadline delivers to the state machine.
    public var event: SessionEvent {
        switch self {
        case .joinWindowOpens: .joinWindowOpened
        case .lateCheck: .lateCheckDue
        case .slotEnd: .slotEnded
        case .safetyCap: .safetyCapReached
        case .personalDataPurge: .personalDataExpired
        }
    }
}
