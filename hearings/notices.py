"""Publishing a hearing's notice (公告).

The notice goes out at least `rules().notice_days` (calendar or working days, per
`notice_unit`) before the hearing, unless the hearing is marked urgent (its reason is on
the file already). A closed hearing's notice goes to the parties only: publishing it sets
`notice_published_at` (the parties' invitations may say so) but nothing of it is ever
shown publicly (`permissions.is_publicly_visible` requires `is_public`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from hearings import permissions as perm
from hearings.locking import lock_hearing
from hearings.models import Hearing, HearingStatus
from hearings.rules import add_days, rules
from portal.casefiles.clocks import china_day, today_in_china
from portal.casefiles.operations import record_event
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

EVENT_KIND = "hearing_notice_published"


class NoticeRefused(DomainError):
    """The notice may not go out now (too late, or not in a state to publish)."""


def earliest_hearing_day(today: date | None = None) -> date:
    """The first day a hearing may be held when its notice goes out `today`."""
    r = rules()
    return add_days(today or today_in_china(), r.notice_days, r.notice_unit)


def publish_notice(session: Session, user: Any, hearing: Hearing) -> None:
    """Publish the notice: status PUBLISHED, notice_published_at now, a case event.
    Flushes; raises NoticeRefused / NotAllowed."""
    if not perm.can_organise(user, hearing):
        raise NotAllowed(_l("Only the organisers of this hearing may publish its notice."))
    lock_hearing(session, hearing)
    if hearing.notice_published_at is not None:
        raise NoticeRefused(_l("The notice of this hearing was already published."))
    if hearing.status != HearingStatus.SCHEDULED:
        raise NoticeRefused(_l("Only a scheduled hearing's notice can be published."))
    if hearing.starts_at <= utcnow():
        raise NoticeRefused(_l("This hearing's time has passed: reschedule it first."))
    earliest = earliest_hearing_day()
    if china_day(hearing.starts_at) < earliest and not hearing.is_urgent:
        r = rules()
        message = (_l("The notice must go out at least %(n)d working days before the "
                      "hearing: for a notice published today, the hearing must be on "
                      "%(day)s or later. Reschedule it, or mark it urgent with a reason.",
                      n=r.notice_days, day=earliest.isoformat())
                   if r.notice_unit == "working" else
                   _l("The notice must go out at least %(n)d days before the hearing: for "
                      "a notice published today, the hearing must be on %(day)s or later. "
                      "Reschedule it, or mark it urgent with a reason.",
                      n=r.notice_days, day=earliest.isoformat()))
        raise NoticeRefused(message)
    hearing.notice_published_at = utcnow()
    hearing.status = HearingStatus.PUBLISHED
    record_event(session, user, hearing.case, EVENT_KIND, {
        "hearing_id": hearing.id, "title": hearing.title,
        "starts_at": hearing.starts_at.isoformat(), "public": hearing.is_public,
        "urgent": hearing.is_urgent})
    session.flush()
