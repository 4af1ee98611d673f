"""Observers (旁听) through the pages: registering, the waiting list, the personal link
and cancelling, the organisers' list and check-in at the door."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, text

from hearings.models import Hearing, Observer
from portal.identity import check_digit
from portal.notify.models import OutboxMessage
from tests.fixtures.core import login
from tests.fixtures.hearings import new_hearing


def resident_id(n: int) -> str:
    """A valid 18-digit resident ID number, different for each n."""
    first17 = f"11010119900307{n % 1000:03d}"
    return first17 + check_digit(first17)


def person(n: int, **changes: str) -> dict[str, str]:
    data = {"name": f"旁听者{n}", "phone": f"139{n:08d}", "id_kind": "resident_id",
            "id_number": resident_id(n)}
    data.update(changes)
    return data


def register(client, hearing, n: int, **changes: str):
    return client.post(f"/hearings/public/{hearing.id}", data=person(n, **changes))


def link_in(page: str) -> str:
    match = re.search(r'href="http://localhost(/hearings/observe/[a-z0-9]+)"', page)
    assert match, page[:2000]
    return match.group(1)


def observers(session, hearing) -> list[Observer]:
    session.expire_all()
    return list(session.scalars(select(Observer).where(Observer.hearing_id == hearing.id)
                                .order_by(Observer.id)))


def sms_to(session, phone: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_address == phone).order_by(OutboxMessage.id)))


def test_registering_seats_the_person_and_sends_the_link(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=2)
    response = register(client, hearing, 1)
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    assert "Your seat is confirmed" in page
    assert response.headers["Cache-Control"] == "no-store"
    link = link_in(page)
    [row] = observers(session, hearing)
    assert row.status == "seated" and row.seated_at is not None
    assert row.phone == "13900000001" and row.id_number == resident_id(1)
    # stored encrypted: the raw columns hold neither number
    raw = session.execute(text("SELECT phone, id_number FROM hearing_observers WHERE id = :i"),
                          {"i": row.id}).one()
    assert "13900000001" not in raw[0] and resident_id(1) not in raw[1]
    [sms] = sms_to(session, "13900000001")
    assert sms.channel == "sms" and link in sms.body and hearing.title in sms.body
    own = client.get(link).get_data(as_text=True)
    assert "Seat confirmed" in own and "旁听者1" in own and "Cancel my registration" in own
    # the public list counts the seat
    assert "1 of 2 seats left" in client.get("/hearings/public").get_data(as_text=True)


def test_registration_checks_each_field(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    cases = [
        (person(1, name=""), "Enter your name."),
        (person(1, phone=""), "Enter your mobile number."),
        (person(1, phone="12345"), "not a phone number in mainland China"),
        (person(1, phone="0571-87654321"), "Enter a mobile number"),
        (person(1, id_number=""), "Enter the number of your identity document."),
        (person(1, id_number=resident_id(1)[:-1] + ("0" if resident_id(1)[-1] != "0"
                                                    else "1")),
         "does not match the others"),
        (person(1, id_kind="passport", id_number="E1"), "5 to 17 letters and digits"),
        (person(1, id_kind="spaceship"), "Not a valid choice"),
    ]
    for data, message in cases:
        response = client.post(f"/hearings/public/{hearing.id}", data=data)
        assert response.status_code == 400, data
        page = response.get_data(as_text=True)
        assert message in page, (data, message)
        assert 'value="旁听者1"' in page or not data["name"]  # what was typed is kept
    assert observers(session, hearing) == []
    assert session.scalar(select(OutboxMessage).where(
        OutboxMessage.to_address == "13900000001")) is None


def test_a_passport_holder_registers(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    response = register(client, hearing, 5, id_kind="passport", id_number="e 1234 5678")
    assert response.status_code == 201
    [row] = observers(session, hearing)
    assert row.id_kind == "passport" and row.id_number == "E12345678"


def test_a_repeat_registration_is_refused_without_revealing_anyone(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    assert register(client, hearing, 1).status_code == 201
    # someone else types the same ID number (spaces, a lower-case x: the same number)
    response = register(client, hearing, 2, id_number=" ".join(resident_id(1)))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "already registered to observe this hearing" in page
    assert "旁听者1" not in page and "13900000001" not in page and "0001" not in page
    assert len(observers(session, hearing)) == 1
    assert sms_to(session, "13900000002") == []


def test_a_full_hearing_offers_the_waiting_list(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    assert register(client, hearing, 1).status_code == 201
    notice = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
    assert "All seats are taken" in notice and "you would be number 1" in notice
    assert "Join the waiting list" in notice
    second = register(client, hearing, 2).get_data(as_text=True)
    assert "You are on the waiting list, number 1." in second
    third = register(client, hearing, 3)
    assert "You are on the waiting list, number 2." in third.get_data(as_text=True)
    assert "place 2" in sms_to(session, "13900000003")[0].body
    own = client.get(link_in(third.get_data(as_text=True))).get_data(as_text=True)
    assert "number 2 on the waiting list" in own
    assert [o.status for o in observers(session, hearing)] == ["seated", "waitlisted",
                                                                "waitlisted"]
    assert "Full: 2 on the waiting list" in client.get("/hearings/public").get_data(
        as_text=True)


def test_cancelling_a_seat_promotes_the_first_waitlisted(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    first = link_in(register(client, hearing, 1).get_data(as_text=True))
    register(client, hearing, 2)
    third = link_in(register(client, hearing, 3).get_data(as_text=True))
    page = client.get(first).get_data(as_text=True)
    assert 'data-confirm="Cancel your registration?' in page
    response = client.post(f"{first}/cancel")
    assert response.status_code == 200
    assert "Your registration is cancelled" in response.get_data(as_text=True)
    rows = observers(session, hearing)
    assert [o.status for o in rows] == ["cancelled", "seated", "waitlisted"]
    [seated_sms] = [m for m in sms_to(session, "13900000002") if "A seat is now yours"
                    in m.body]
    assert hearing.title in seated_sms.body
    assert "number 1 on the waiting list" in client.get(third).get_data(as_text=True)
    # a second cancel says so, and changes nothing
    again = client.post(f"{first}/cancel")
    assert again.status_code == 400 and "already cancelled" in again.get_data(as_text=True)
    assert [o.status for o in observers(session, hearing)] == ["cancelled", "seated",
                                                                "waitlisted"]
    # a waitlisted person cancelling frees no seat
    client.post(f"{third}/cancel")
    assert [o.status for o in observers(session, hearing)] == ["cancelled", "seated",
                                                                "cancelled"]


def test_someone_who_cancelled_may_register_again(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    link = link_in(register(client, hearing, 1).get_data(as_text=True))
    client.post(f"{link}/cancel")
    response = register(client, hearing, 1, phone="13700000000")
    assert response.status_code == 201
    [row] = observers(session, hearing)
    assert row.status == "seated" and row.phone == "13700000000"
    assert client.get(link).status_code == 404  # the old link ended with the new one


def test_a_wrong_link_is_not_found(client, session, world):
    assert client.get("/hearings/observe/nosuchtoken").status_code == 404
    assert client.post("/hearings/observe/nosuchtoken/cancel").status_code == 404
    assert client.get("/hearings/observe/" + "a" * 200).status_code == 404


def test_registration_closes_when_the_hearing_starts_or_is_cancelled(client, session,
                                                                     world):
    hearing, _ = new_hearing(session, world, status="published")
    link = link_in(register(client, hearing, 1).get_data(as_text=True))
    hearing.status = "running"
    session.commit()
    page = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
    assert "Registration is closed" in page and 'name="id_number"' not in page
    response = register(client, hearing, 2)
    assert response.status_code == 409
    assert "Registration is closed" in response.get_data(as_text=True)
    own = client.get(link).get_data(as_text=True)
    assert "Cancel my registration" not in own
    hearing.status = "cancelled"
    session.commit()
    response = register(client, hearing, 3)
    assert response.status_code == 409
    assert "was cancelled" in response.get_data(as_text=True)
    assert "This hearing was cancelled" in client.get(link).get_data(as_text=True)
    assert len(observers(session, hearing)) == 1


def test_a_hearing_without_seats_takes_no_registration(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=0)
    page = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
    assert "takes no registered observers" in page
    assert register(client, hearing, 1).status_code == 409
    assert observers(session, hearing) == []


def test_a_form_sent_twice_registers_once(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    data = {**person(1), "idempotency_key": "k" * 30}
    assert client.post(f"/hearings/public/{hearing.id}", data=data).status_code == 201
    again = client.post(f"/hearings/public/{hearing.id}", data=data)
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/hearings/public/{hearing.id}")
    assert len(observers(session, hearing)) == 1
    assert len(sms_to(session, "13900000001")) == 1


def test_registrations_are_rate_limited_per_address(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=50)
    for n in range(10):
        assert register(client, hearing, n).status_code == 201
    response = register(client, hearing, 99)
    assert response.status_code == 429
    assert "Too many registrations" in response.get_data(as_text=True)
    assert len(observers(session, hearing)) == 10


# --- organisers ---------------------------------------------------------------------------

def test_organisers_see_the_list_masked_and_check_people_in(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    register(client, hearing, 1)
    register(client, hearing, 2)
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Seated: 1 of 1 · waiting list: 1" in page
    assert "旁听者1" in page and "139****0001" in page
    assert "13900000001" not in page and resident_id(1) not in page
    assert "110***********" in page
    first, second = observers(session, hearing)
    response = client.post(f"/hearings/{hearing.id}/observers/{first.id}/check-in")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "旁听者1 is checked in" in page and "Checked in at" in page
    assert observers(session, hearing)[0].attended_at is not None
    # twice, or someone on the waiting list: refused, nothing changes
    page = client.post(f"/hearings/{hearing.id}/observers/{first.id}/check-in",
                       follow_redirects=True).get_data(as_text=True)
    assert "already checked in" in page
    page = client.post(f"/hearings/{hearing.id}/observers/{second.id}/check-in",
                       follow_redirects=True).get_data(as_text=True)
    assert "Only an observer with a confirmed seat" in page
    assert observers(session, hearing)[1].attended_at is None
    assert client.post(f"/hearings/{hearing.id}/observers/99999/check-in").status_code == 404


def test_others_neither_see_the_list_nor_check_in(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    register(client, hearing, 1)
    [row] = observers(session, hearing)
    login(client, world.supervisor)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "旁听者1" not in page and "139****0001" not in page
    url = f"/hearings/{hearing.id}/observers/{row.id}/check-in"
    assert client.post(url).status_code == 403
    client.post("/logout")
    login(client, world.other_clerk)
    assert client.post(url).status_code == 404
    assert observers(session, hearing)[0].attended_at is None
    # an observer of another hearing is not found through this one
    other, _ = new_hearing(session, world, status="published")
    client.post("/logout")
    login(client, world.clerk)
    assert client.post(f"/hearings/{other.id}/observers/{row.id}/check-in"
                       ).status_code == 404


def test_the_observer_page_changes_nothing(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    link = link_in(register(client, hearing, 1).get_data(as_text=True))
    for _ in range(2):
        assert client.get(link).status_code == 200
    [row] = observers(session, hearing)
    assert row.status == "seated"
    assert session.get(Hearing, hearing.id).status == "published"


def test_a_hearing_moved_nearer_still_closes_at_its_start(client, session, world):
    hearing, _ = new_hearing(session, world, status="published",
                             starts_in=timedelta(minutes=-5))
    response = register(client, hearing, 1)
    assert response.status_code == 409 and "Registration is closed" in response.get_data(
        as_text=True)


def test_the_registration_keeps_the_language_it_was_made_in(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    client.set_cookie("portal_lang", "zh_CN")
    assert register(client, hearing, 1).status_code == 201
    [row] = observers(session, hearing)
    assert row.locale == "zh_CN"  # the SMS after a promotion is written in it
    [sms] = sms_to(session, "13900000001")
    assert '"locale": "zh_CN"' in sms.payload


def test_observers_are_told_when_the_hearing_is_cancelled(client, session, world):
    from hearings.observers import tell_cancelled

    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    register(client, hearing, 1)
    register(client, hearing, 2)
    link = link_in(register(client, hearing, 3).get_data(as_text=True))
    client.post(f"{link}/cancel")
    assert tell_cancelled(session, hearing) == 2
    assert tell_cancelled(session, hearing) == 2  # queued once each all the same
    session.commit()
    for phone in ("13900000001", "13900000002"):
        assert [m for m in sms_to(session, phone) if "is cancelled" in m.body]
    assert not [m for m in sms_to(session, "13900000003") if "is cancelled" in m.body]


def test_a_duplicate_caught_by_the_database_is_already_registered(client, session, world,
                                                                   monkeypatch):
    """The racer's row committed after the lookup (the lookup is made blind here): the
    unique constraint refuses the second row, and the person reads the usual message."""
    from hearings import observers as ops

    hearing, _ = new_hearing(session, world, status="published")
    assert register(client, hearing, 1).status_code == 201
    monkeypatch.setattr(ops, "_existing", lambda *args: None)
    response = register(client, hearing, 2, id_number=resident_id(1))
    assert response.status_code == 409
    assert "already registered to observe this hearing" in response.get_data(as_text=True)
    assert len(observers(session, hearing)) == 1
    assert sms_to(session, "13900000002") == []


def test_a_seated_observer_finds_the_live_view_on_their_page(client, session, world):
    """The observer's own page leads to the watch-only live view (no typed URL); someone
    on the waiting list is not offered it."""
    hearing, _ = new_hearing(session, world, status="published", observer_seats=1)
    seated = link_in(register(client, hearing, 1).get_data(as_text=True))
    waiting = link_in(register(client, hearing, 2).get_data(as_text=True))
    token = seated.rsplit("/", 1)[1]
    page = client.get(seated).get_data(as_text=True)
    assert f'href="/hearings/watch/{token}"' in page
    assert client.get(f"/hearings/watch/{token}").status_code == 200
    assert "/hearings/watch/" not in client.get(waiting).get_data(as_text=True)


def test_the_observer_page_of_an_online_hearing_links_to_the_online_view(client, session,
                                                                         world):
    """A seated observer of a hearing held online (or both) finds the watch link on
    their own page; of a hearing in a room only, none."""
    online, _t = new_hearing(session, world, status="published", place_kind="both")
    room, _t = new_hearing(session, world, status="published", place_kind="room")
    session.commit()
    for hearing, offered in ((online, True), (room, False)):
        page = register(client, hearing, 1).get_data(as_text=True)
        path = link_in(page)
        token = path.rsplit("/", 1)[1]
        own = client.get(path).get_data(as_text=True)
        # both lead to the live view; only an online hearing offers watching it online
        assert f'href="/hearings/watch/{token}"' in own
        assert ("Watch the hearing online" in own) is offered
        assert own.count(f'href="/hearings/watch/{token}"') == 1
        if offered:
            assert client.get(f"/hearings/watch/{token}").status_code == 200
