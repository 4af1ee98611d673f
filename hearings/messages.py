"""What the invitations say: the in-app notices (registered message keys, shown in the
reader's language) and the texts of the e-mails and text messages, written in the
recipient's language by the caller (`portal.i18n.in_locale`).

A personal link is passed in by the caller and goes into the message only: it is never
stored here, never logged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _

from hearings.models import Hearing, PanelKind, Participant, ParticipantRole, PlaceKind
from portal.enums import labels
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register
from portal.timeutil import beijing

INVITED = "hearings.invited"
UPDATED = "hearings.updated"
CANCELLED = "hearings.cancelled"
REMINDER = "hearings.reminder"
DECLINED = "hearings.declined"
DECLINED_SEAT = "hearings.declined_seat"
WITHDRAWN = "hearings.withdrawn"

register(INVITED,
         _l("You are invited to the hearing “%(title)s” on %(when)s as %(role)s. "
            "Please say whether you will attend."),
         _l("Hearing invitation: %(title)s"), translated=("role",))
register(UPDATED,
         _l("The hearing “%(title)s” has changed: it is now on %(when)s, %(where)s."),
         _l("Hearing changed: %(title)s"), translated=("where",))
register(CANCELLED,
         _l("The hearing “%(title)s” on %(when)s is cancelled."),
         _l("Hearing cancelled: %(title)s"))
register(REMINDER,
         _l("Reminder: the hearing “%(title)s” is on %(when)s, %(where)s."),
         _l("Hearing reminder: %(title)s"), translated=("where",))
register(DECLINED,
         _l("%(name)s (%(role)s) declined the invitation to the hearing “%(title)s”. "
            "Reason: %(reason)s."),
         _l("Invitation declined: %(title)s"), translated=("role",))
register(DECLINED_SEAT,
         _l("%(name)s (panel seat %(seat)s) declined the invitation to the hearing "
            "“%(title)s”. Reason: %(reason)s. Draw a substitute for seat %(seat)s on the "
            "hearing's page."),
         _l("Invitation declined: %(title)s"))
register(WITHDRAWN,
         _l("You are no longer on the panel of the hearing “%(title)s” on %(when)s: "
            "you need not attend."),
         _l("No longer on the panel: %(title)s"))


def when(hearing: Hearing) -> str:
    """The hearing's time in Beijing time, e.g. 2026-12-12 09:00–12:00."""
    start, end = beijing(hearing.starts_at), beijing(hearing.ends_at)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def where_source(hearing: Hearing) -> str:
    """Where, as a notice value: the room's name, or "online" in its source text (the
    notice translates it when shown)."""
    if hearing.place_kind == PlaceKind.ONLINE or not hearing.place:
        with in_locale("en"):
            return _("online")
    return hearing.place


def where(hearing: Hearing) -> str:
    """Where, in the current language."""
    if hearing.place_kind == PlaceKind.ONLINE or not hearing.place:
        return _("online")
    if hearing.place_kind == PlaceKind.BOTH:
        return _("%(place)s, or online", place=hearing.place)
    return hearing.place


def role_source(participant: Participant) -> str:
    """The role asked of them, as its English source text (a notice value)."""
    with in_locale("en"):
        return str(ParticipantRole(participant.role).label)


def role(participant: Participant) -> str:
    """The role asked of them in the current language; a panel seat with its number and
    kind."""
    name = str(labels(ParticipantRole).get(ParticipantRole(participant.role), participant.role))
    if participant.role == ParticipantRole.PANEL and participant.seat_no:
        kind = labels(PanelKind).get(PanelKind(participant.panel_kind),
                                     "") if participant.panel_kind in set(PanelKind) else ""
        if kind:
            return _("%(role)s, seat %(seat)d (%(kind)s)", role=name,
                     seat=participant.seat_no, kind=kind)
        return _("%(role)s, seat %(seat)d", role=name, seat=participant.seat_no)
    return name


def _details(hearing: Hearing, participant: Participant) -> list[str]:
    return [_("Hearing: %(title)s", title=hearing.title),
            _("Time: %(when)s (Beijing time)", when=when(hearing)),
            _("Place: %(where)s", where=where(hearing)),
            _("Your role: %(role)s", role=role(participant))]


def _contact(hearing: Hearing) -> str:
    office = hearing.office
    if office is not None and office.phone:
        return _("Questions: call %(office)s, %(phone)s.", office=office.name,
                 phone=office.phone)
    name = office.name if office is not None else ""
    return _("Questions: call %(office)s.", office=name)


def _join(lines: Iterable[str]) -> str:
    return "\n".join(lines) + "\n"


def invitation(hearing: Hearing, participant: Participant, url: str) -> tuple[str, str]:
    """(subject, body) of the invitation e-mail, with the personal link."""
    subject = _("Hearing invitation: %(title)s", title=hearing.title)
    body = _join([
        _("Dear %(name)s,", name=participant.name), "",
        _("You are invited to take part in a public hearing."), "",
        *_details(hearing, participant), "",
        _("Please tell us whether you will attend (and, if not, why) on your personal "
          "page; answering again changes your answer until the hearing starts:"),
        url, "",
        _("The link is yours alone: do not pass it on. The attached calendar file adds "
          "the hearing to your calendar."),
        _contact(hearing)])
    return subject, body


def invitation_sms(hearing: Hearing, participant: Participant, url: str) -> str:
    return _("%(name)s: you are invited to the hearing “%(title)s” on %(when)s (Beijing "
             "time), %(where)s, as %(role)s. Please answer here: %(url)s",
             name=participant.name, title=hearing.title, when=when(hearing),
             where=where(hearing), role=role(participant), url=url)


def changes(hearing: Hearing, previous: dict[str, object]) -> list[str]:
    """What changed, in words, from the previous values of starts_at / ends_at / place."""
    lines: list[str] = []
    old_start, old_end = previous.get("starts_at"), previous.get("ends_at")
    if isinstance(old_start, datetime) and isinstance(old_end, datetime) and (
            old_start != hearing.starts_at or old_end != hearing.ends_at):
        old = f"{beijing(old_start):%Y-%m-%d %H:%M}–{beijing(old_end):%H:%M}"
        lines.append(_("The time changed from %(old)s to %(new)s (Beijing time).",
                       old=old, new=when(hearing)))
    old_place = previous.get("place")
    if isinstance(old_place, str) and old_place != hearing.place:
        lines.append(_("The place changed from %(old)s to %(new)s.",
                       old=old_place or _("online"), new=where(hearing)))
    return lines


def update(hearing: Hearing, participant: Participant, previous: dict[str, object]
           ) -> tuple[str, str]:
    changed = changes(hearing, previous)
    subject = _("Hearing changed: %(title)s", title=hearing.title)
    body = _join([
        _("Dear %(name)s,", name=participant.name), "",
        *(changed or [_("The time or place of the hearing changed.")]), "",
        _("The hearing as it now stands:"),
        *_details(hearing, participant), "",
        _("The attached calendar file updates the hearing in your calendar. Your "
          "personal link from the invitation still works."),
        _contact(hearing)])
    return subject, body


def update_sms(hearing: Hearing, participant: Participant) -> str:
    return _("%(name)s: the hearing “%(title)s” has changed: it is now on %(when)s "
             "(Beijing time), %(where)s.", name=participant.name, title=hearing.title,
             when=when(hearing), where=where(hearing))


def cancellation(hearing: Hearing, participant: Participant) -> tuple[str, str]:
    subject = _("Hearing cancelled: %(title)s", title=hearing.title)
    lines = [_("Dear %(name)s,", name=participant.name), "",
             _("The hearing “%(title)s” on %(when)s (Beijing time) is cancelled.",
               title=hearing.title, when=when(hearing))]
    if hearing.cancel_reason:
        lines.append(_("Reason: %(reason)s", reason=hearing.cancel_reason))
    lines += ["", _("The attached calendar file removes it from your calendar."),
              _contact(hearing)]
    return subject, _join(lines)


def cancellation_sms(hearing: Hearing, participant: Participant) -> str:
    return _("%(name)s: the hearing “%(title)s” on %(when)s is cancelled.",
             name=participant.name, title=hearing.title, when=when(hearing))


def withdrawal(hearing: Hearing, participant: Participant) -> tuple[str, str]:
    """(subject, body): their panel seat went to someone else, or they were removed."""
    subject = _("No longer on the panel: %(title)s", title=hearing.title)
    body = _join([
        _("Dear %(name)s,", name=participant.name), "",
        _("You are no longer on the panel of the hearing “%(title)s” on %(when)s (Beijing "
          "time): you need not attend, and your personal link no longer works.",
          title=hearing.title, when=when(hearing)), "",
        _("The attached calendar file removes it from your calendar."),
        _contact(hearing)])
    return subject, body


def withdrawal_sms(hearing: Hearing, participant: Participant) -> str:
    return _("%(name)s: you are no longer on the panel of the hearing “%(title)s” on "
             "%(when)s; you need not attend.", name=participant.name, title=hearing.title,
             when=when(hearing))


def reminder(hearing: Hearing, participant: Participant, url: str | None
             ) -> tuple[str, str]:
    subject = _("Hearing reminder: %(title)s", title=hearing.title)
    lines = [_("Dear %(name)s,", name=participant.name), "",
             _("This is a reminder of the hearing you are invited to."), "",
             *_details(hearing, participant), ""]
    if participant.rsvp == "accepted":
        lines.append(_("You said you will attend. Thank you."))
    else:
        lines.append(_("You have not answered yet. Please tell us whether you will "
                       "attend."))
    if url:
        lines += [_("Your personal page (a new link; the earlier one no longer works):"),
                  url]
    else:
        lines.append(_("Use the personal link in your invitation."))
    lines.append(_contact(hearing))
    return subject, _join(lines)


def reminder_sms(hearing: Hearing, participant: Participant, url: str | None) -> str:
    text = _("%(name)s: reminder of the hearing “%(title)s” on %(when)s (Beijing time), "
             "%(where)s.", name=participant.name, title=hearing.title, when=when(hearing),
             where=where(hearing))
    if url:
        text += " " + _("Please answer here: %(url)s", url=url)
    return text


def calendar_summary(hearing: Hearing) -> str:
    return _("Hearing: %(title)s", title=hearing.title)


def calendar_description(hearing: Hearing, participant: Participant) -> str:
    return "\n".join([_("Your role: %(role)s", role=role(participant)), _contact(hearing)])
