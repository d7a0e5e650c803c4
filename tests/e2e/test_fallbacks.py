"""Late-citizen fallback, exactly once: real SMTP sink, real webhook receiver, the real binary."""
import datetime
import random
import time

from conftest import Gateway, notification_env, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def booking(start_in, length=120, notify=True, name="Maria João Sousa", phone="+351912345678", start_iso=None):
    return {
        "service": "prestacoes-familiares", "startsAt": start_iso or iso(start_in), "endsAt": iso(start_in + length),
        "attendantId": "a-17", "notifyCitizen": notify,
        "citizen": {"name": name, "email": "maria.joao@example.pt", "phone": phone, "locale": "pt-PT"},
    }


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_late_citizen_gets_one_email_and_one_callback_and_a_present_one_none(tmp_path, smtp_sink, webhook_receiver):
    gateway = Gateway(tmp_path, env=notification_env(smtp_sink, webhook_receiver)).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, late = request("PUT", f"{gateway.base}/v1/sessions/B-late", key=key, body=booking(3))
        assert status == 201
        status, present = request("PUT", f"{gateway.base}/v1/sessions/B-present", key=key, body=booking(3, name="Rui"))
        assert status == 201
        # The invitation: link, code and cancel link, with an .ics.
        assert wait_until(lambda: len(smtp_sink.with_id_prefix("notice-invitation.B-late")) == 1, 5)
        invitation = smtp_sink.with_id_prefix("notice-invitation.B-late")[0]["message"]
        text = invitation.get_body(preferencelist=("plain",)).get_content()
        assert late["validationCode"] in text and late["citizenJoinUrl"] in text and late["cancelUrl"] in text
        assert any(part.get_content_type() == "text/calendar" for part in invitation.iter_attachments())

        # The present citizen enters the lobby at about 1 s.
        time.sleep(1)
        token = present["citizenJoinUrl"].rsplit("/", 1)[1]
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": present["validationCode"]})
        assert status == 200 and entered["state"] == "waiting"

        assert wait_until(lambda: len(smtp_sink.with_id_prefix("fallback-email.B-late")) >= 1, 10)
        assert wait_until(lambda: len(webhook_receiver.unique("/contact-centre", "B-late")) >= 1, 5)
        time.sleep(2)  # anything duplicated would have arrived by now

        emails = smtp_sink.with_id_prefix("fallback-email.B-late")
        assert len(emails) == 1
        message = emails[0]["message"]
        assert emails[0]["rcpt"] == ["maria.joao@example.pt"]
        assert str(message["Subject"]).startswith("O seu atendimento começou às ")
        assert "o técnico está à sua espera" in str(message["Subject"])
        assert message["To"].addresses[0].display_name == "Maria João Sousa"
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "Olá Maria João Sousa," in body
        assert late["citizenJoinUrl"] in body and "300 502 502" in body

        callbacks = webhook_receiver.unique("/contact-centre", "B-late")
        assert len(callbacks) == 1
        task = callbacks[0]["body"]
        assert task["type"] == "callback.requested" and task["data"]["phone"] == "+351912345678"
        assert task["data"]["reason"] == "late" and task["data"]["attendantId"] == "a-17"
        assert webhook_receiver.rejected == 0
        assert [e["body"]["type"] for e in webhook_receiver.unique("/scheduler", "B-late")] == ["session.late"]

        assert smtp_sink.with_id_prefix("fallback-email.B-present") == []
        assert webhook_receiver.unique("/contact-centre", "B-present") == []
        session = request("GET", f"{gateway.base}/v1/sessions/B-late", key=key)[1]
        assert session["state"] == "late"
        assert sorted((f["channel"], f["status"]) for f in session["fallbacks"]) == [("email", "sent"), ("phone", "sent")]
        assert request("GET", f"{gateway.base}/v1/sessions/B-present", key=key)[1]["fallbacks"] == []
        logs = gateway.stderr_path.read_text()
        assert "maria.joao@example.pt" not in logs and "+351912345678" not in logs and "Maria" not in logs
    finally:
        gateway.stop()


def test_kill_during_the_send_still_delivers_exactly_once(tmp_path, smtp_sink, webhook_receiver):
    env = notification_env(smtp_sink, webhook_receiver)
    first = Gateway(tmp_path, env=env).start()
    key = first.credentials["SCHEDULER_API_KEYS"]
    smtp_sink.stall_first_rcpt = 5.0
    assert request("PUT", f"{first.base}/v1/sessions/B-crash", key=key, body=booking(2, notify=False))[0] == 201
    # The late deadline passes and the e-mail send starts; kill -9 while the relay is still answering.
    assert smtp_sink.rcpt_started.wait(15), "the fallback e-mail was never attempted"
    first.process.kill()
    first.process.wait()
    assert smtp_sink.with_id_prefix("fallback-email.B-crash") == []

    second = Gateway(tmp_path, env=env)
    second.port = first.port
    second.base = first.base
    second.start()
    try:
        assert wait_until(lambda: len(smtp_sink.with_id_prefix("fallback-email.B-crash")) >= 1, 15)
        assert wait_until(lambda: len(webhook_receiver.unique("/contact-centre", "B-crash")) >= 1, 10)
        time.sleep(3)
        assert len(smtp_sink.with_id_prefix("fallback-email.B-crash")) == 1
        assert len(webhook_receiver.unique("/contact-centre", "B-crash")) == 1
        session = request("GET", f"{second.base}/v1/sessions/B-crash", key=key)[1]
        assert sorted((f["channel"], f["status"]) for f in session["fallbacks"]) == [("email", "sent"), ("phone", "sent")]
    finally:
        second.stop()


def test_hundred_bookings_with_random_cancels_and_reschedules(tmp_path, smtp_sink, webhook_receiver):
    gateway = Gateway(tmp_path, env=notification_env(smtp_sink, webhook_receiver)).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        rng = random.Random(20261123)
        start = iso(6)
        fates = {}
        for index in range(100):
            booking_id = f"R-{index:03d}"
            assert request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body=booking(6, notify=False, start_iso=start))[0] == 201
            fates[booking_id] = rng.choice(["live", "cancel", "reschedule", "reschedule-late"])
        for booking_id, fate in fates.items():
            url = f"{gateway.base}/v1/sessions/{booking_id}"
            if fate == "cancel":
                assert request("DELETE", url, key=key)[0] == 204
            elif fate == "reschedule":  # moved an hour later: not late during this test
                assert request("PUT", url, key=key, body=booking(3600, notify=False))[0] == 200
            elif fate == "reschedule-late":  # moved a few seconds: late in its new generation only
                assert request("PUT", url, key=key, body=booking(8, notify=False))[0] == 200
        expected_late = sorted(b for b, fate in fates.items() if fate in ("live", "reschedule-late"))

        def late_emails():
            return {m["message"]["Message-ID"].strip("<>").split(".")[1] for m in smtp_sink.with_id_prefix("fallback-email.R-")}

        assert wait_until(lambda: sorted(late_emails()) == expected_late, 40), (len(late_emails()), len(expected_late))
        assert wait_until(lambda: len(webhook_receiver.unique("/contact-centre")) == len(expected_late), 15)
        time.sleep(3)
        emails = smtp_sink.with_id_prefix("fallback-email.R-")
        assert len(emails) == len(expected_late), "an e-mail went out twice"
        callbacks = [e for e in webhook_receiver.events if e["path"] == "/contact-centre"]
        assert sorted(e["body"]["bookingId"] for e in callbacks) == expected_late, "a callback went out twice or wrongly"
        print(f"{len(expected_late)} late of 100: {len(emails)} e-mails, {len(callbacks)} callbacks")
    finally:
        gateway.stop()
