"""The inbox and the admin's outbox page, as a user sees them."""

from __future__ import annotations

import re

from portal.auth.roles import Role
from portal.notify import operations as ops
from portal.notify.models import Notification, OutboxMessage, OutboxStatus


def test_inbox_needs_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_inbox_shows_own_notifications_newest_first_and_unread_count(
        client, session, login_as, make_user) -> None:  # type: ignore[no-untyped-def]
    me = login_as(Role.CLERK)
    other = make_user(Role.CLERK)
    ops.notify_user(session, me.id, "旧的通知：案件已受理", "/orgs/")
    ops.notify_user(session, me.id, "新的通知：听证会已排期")
    ops.notify_user(session, other.id, "别人的通知：不应出现")
    session.commit()

    page = client.get("/notifications").get_data(as_text=True)
    assert "新的通知" in page and "旧的通知" in page
    assert "别人的通知" not in page
    assert page.index("新的通知") < page.index("旧的通知")
    assert 'aria-label="2 unread"' in page  # the badge in the shell's menu
    assert page.count('class="unread"') == 2


def test_empty_inbox_says_so(client, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.MEDIATOR)
    page = client.get("/notifications").get_data(as_text=True)
    assert "No notifications yet" in page
    assert "Mark all as read" not in page


def test_opening_a_notification_marks_it_read_and_follows_safe_links(
        client, session, login_as) -> None:  # type: ignore[no-untyped-def]
    me = login_as(Role.CLERK)
    inside = ops.notify_user(session, me.id, "内部链接", "/orgs/?q=1")
    outside = ops.notify_user(session, me.id, "外部链接", "https://evil.example/")
    session.commit()

    response = client.post(f"/notifications/{inside.id}/read")
    assert response.status_code == 302 and response.headers["Location"] == "/orgs/?q=1"
    response = client.post(f"/notifications/{outside.id}/read")
    assert response.status_code == 302 and response.headers["Location"] == "/notifications"
    session.expire_all()
    assert session.get(Notification, inside.id).read_at is not None
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(r'aria-label="\d+ unread"', page) is None  # no badge left in the shell
    assert 'class="unread"' not in page and page.count('class="read"') == 2


def test_cannot_mark_someone_elses_notification(client, session, login_as, make_user) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.CLERK)
    other = make_user(Role.CLERK)
    theirs = ops.notify_user(session, other.id, "别人的")
    session.commit()
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 404
    session.expire_all()
    assert session.get(Notification, theirs.id).read_at is None


def test_mark_all_read(client, session, login_as) -> None:  # type: ignore[no-untyped-def]
    me = login_as(Role.CLERK)
    for i in range(3):
        ops.notify_user(session, me.id, f"通知{i}")
    session.commit()
    page = client.get("/notifications").get_data(as_text=True)
    assert "Mark all as read" in page
    response = client.post("/notifications/read-all", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Marked 3 notifications as read." in page
    assert 'class="unread"' not in page and 'class="badge"' not in page


def test_inbox_pages_through_many(client, session, login_as) -> None:  # type: ignore[no-untyped-def]
    me = login_as(Role.CLERK)
    for i in range(12):
        ops.notify_user(session, me.id, f"第{i:02d}条")
    session.commit()
    first = client.get("/notifications?per_page=10").get_data(as_text=True)
    second = client.get("/notifications?per_page=10&page=2",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "第11条" in first and "第00条" not in first
    assert "第00条" in second and "第11条" not in second
    assert "<html" not in second  # htmx gets the list only


def test_outbox_is_for_admins_only(client, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.CLERK)
    assert client.get("/dev/outbox").status_code == 403
    assert client.post("/dev/outbox/1/retry").status_code == 403


def test_outbox_lists_queued_mail_and_filters(client, session, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.ADMIN)
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "The outbox is empty" in page
    ops.queue_email(session, to="zhao@example.cn", subject="听证会通知", body="正文：请准时参加。")
    failed = ops.queue_email(session, to="qian@example.cn", subject="调解提醒", body="b")
    assert failed is not None
    failed.status, failed.attempts, failed.last_error = OutboxStatus.FAILED, 8, "550 no user"
    session.commit()

    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "zhao@example.cn" in page and "听证会通知" in page
    assert "<details>" in page and "正文：请准时参加。" in page
    assert "550 no user" in page
    fragment = client.get("/dev/outbox?status=failed",
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "qian@example.cn" in fragment and "zhao@example.cn" not in fragment
    assert "<html" not in fragment
    assert re.search(rf'action="/dev/outbox/{failed.id}/retry"', fragment)
    empty = client.get("/dev/outbox?status=sending").get_data(as_text=True)
    assert "No messages with this status." in empty


def test_admin_retries_a_failed_message(client, session, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.ADMIN)
    message = ops.queue_email(session, to="sun@example.cn", subject="s", body="b")
    assert message is not None
    message.status, message.attempts = OutboxStatus.FAILED, 8
    session.commit()

    response = client.post(f"/dev/outbox/{message.id}/retry", follow_redirects=True)
    assert response.status_code == 200
    assert "The message will be sent again." in response.get_data(as_text=True)
    session.expire_all()
    row = session.get(OutboxMessage, message.id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    # a pending message cannot be "retried" again
    assert client.post(f"/dev/outbox/{message.id}/retry").status_code == 409
