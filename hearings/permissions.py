"""Who may do what with hearings. Deny by default.

- Organisers: clerks and leaders of the office that holds the hearing (and the admin)
  schedule it, compose the panel, send invitations, publish the notice, manage observers.
- Whoever may view the hearing's case file sees the hearing's staff page.
- The presiding officer and the hearing clerk run the live hearing; the clerk writes the
  minutes (the presiding officer may too).
- Participants (a personal link, or their account when they have one) follow the live
  view, answer the invitation, vote (panel) and sign.
- Deliberation: the active panel members and the presiding officer only — nobody else,
  the admin and the organisers included.
- The public: the notice of a public hearing, observer registration, the observer's own
  cancel link; nothing at all of a closed hearing.

Each helper section below is kept to its part; the shared ones come first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from hearings.models import Hearing, HearingStatus, Participant, ParticipantRole, Rsvp
from portal.auth.permissions import holds, is_active_user, is_admin, org_ids
from portal.auth.roles import Role
from portal.casefiles import permissions as case_perm

#: roles that organise hearings (of their office)
ORGANISER_ROLES = (Role.CLERK, Role.LEADER)
#: roles that open the hearings list at all (which hearings: visible_hearings)
HEARING_ROLES = (Role.ADMIN, Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.AGENCY)


def can_open_hearings(user: Any) -> bool:
    return holds(user, *HEARING_ROLES)


def can_schedule(user: Any) -> bool:
    """May schedule hearings at all (for a case they may manage)."""
    return is_admin(user) or holds(user, *ORGANISER_ROLES)


def can_schedule_for(user: Any, case: Any) -> bool:
    return can_schedule(user) and case_perm.can_manage(user, case)


def can_organise(user: Any, hearing: Hearing) -> bool:
    """Compose the panel, invite, publish, manage observers, reschedule, cancel."""
    if is_admin(user):
        return True
    return holds(user, *ORGANISER_ROLES) and hearing.office_id in org_ids(user)


def can_view_hearing(user: Any, hearing: Hearing) -> bool:
    """The staff page of the hearing: organisers, those who see its case, and the
    presiding officer and clerk."""
    if not is_active_user(user):
        return False
    if can_organise(user, hearing) or can_run(user, hearing):
        return True
    return case_perm.can_view(user, hearing.case)


def visible_hearings(user: Any) -> ColumnElement[bool]:
    """can_view_hearing as an SQL condition on Hearing (joined to Case)."""
    if is_admin(user):
        return true()
    if not is_active_user(user):
        return false()
    conds: list[ColumnElement[bool]] = [Hearing.presiding_id == user.id,
                                        Hearing.clerk_id == user.id,
                                        case_perm.visible_cases(user)]
    mine = sorted(org_ids(user))
    if mine and user.has_role(*ORGANISER_ROLES):
        conds.append(Hearing.office_id.in_(mine))
    return or_(*conds)


def is_presiding(user: Any, hearing: Hearing) -> bool:
    return is_active_user(user) and hearing.presiding_id == user.id


def is_hearing_clerk(user: Any, hearing: Hearing) -> bool:
    return is_active_user(user) and hearing.clerk_id == user.id


def can_run(user: Any, hearing: Hearing) -> bool:
    """Start, move stages, check attendance, run the speaker queue: presiding officer and
    hearing clerk."""
    return is_presiding(user, hearing) or is_hearing_clerk(user, hearing)


def can_write_minutes(user: Any, hearing: Hearing) -> bool:
    return can_run(user, hearing) and hearing.status in (HearingStatus.RUNNING,
                                                          HearingStatus.PUBLISHED,
                                                          HearingStatus.SCHEDULED)


def participant_of(user: Any, hearing: Hearing) -> Participant | None:
    """The user's own active participant row in the hearing, when they have an account."""
    if not is_active_user(user):
        return None
    for p in hearing.participants:
        if p.user_id == user.id and p.is_active:
            return p
    return None


def sits_on_panel(participant: Participant | None) -> bool:
    """An active panel member who did not decline (invited or accepted)."""
    return bool(participant is not None and participant.role == ParticipantRole.PANEL
                and participant.is_active and participant.rsvp != Rsvp.DECLINED)


def panel_seat_clause() -> ColumnElement[bool]:
    """sits_on_panel as an SQL condition on Participant (a seat that books its person)."""
    return and_(Participant.role == ParticipantRole.PANEL, Participant.is_active.is_(True),
                Participant.rsvp != Rsvp.DECLINED)


def is_deliberating_member(participant: Participant | None) -> bool:
    """An active panel member, or the presiding officer (through their participant row)."""
    return bool(participant is not None and participant.is_active
                and (participant.role == ParticipantRole.PRESIDING
                     or sits_on_panel(participant)))


def can_deliberate(user: Any, hearing: Hearing) -> bool:
    """Enter the private deliberation with an account: the presiding officer, or an active
    panel member whose participant row names this user. Never the admin as such."""
    if is_presiding(user, hearing):
        return True
    return is_deliberating_member(participant_of(user, hearing))


def is_publicly_visible(hearing: Hearing) -> bool:
    """Whether anything of the hearing may be shown without a login."""
    return (hearing.is_public and hearing.notice_published_at is not None
            and hearing.status != HearingStatus.CANCELLED)


# --- scheduling and requests -----------------------------------------------------------


def can_open_requests(user: Any) -> bool:
    """The list of hearing requests: organisers (and the admin)."""
    return can_schedule(user)


def can_enter_request(user: Any, case: Any) -> bool:
    """Enter a petitioner's request through the clerk: an organiser who may add to the
    case file."""
    return can_schedule(user) and case_perm.can_contribute(user, case)


def can_decide_request(user: Any, request: Any) -> bool:
    """Grant or refuse a request: an organiser who may manage its case."""
    return can_schedule_for(user, request.case)


def visible_requests(user: Any) -> ColumnElement[bool]:
    """The requests an organiser sees, as an SQL condition on Case (joined)."""
    if not can_schedule(user):
        return false()
    return case_perm.visible_cases(user)


# --- panel ------------------------------------------------------------------------------


def can_compose_panels(user: Any) -> bool:
    """The route check of the panel pages: who may compose some hearing's panel."""
    return can_schedule(user)


def can_compose_panel(user: Any, hearing: Hearing) -> bool:
    """Draw, pick by hand, remove, substitute; and see why people were passed over
    (conflicts, bookings): the hearing's organisers."""
    return is_active_user(user) and can_organise(user, hearing)


# --- invitations ------------------------------------------------------------------------

def can_manage_invitations(user: Any, hearing: Hearing) -> bool:
    """See who accepted, declined (with reasons) or has not answered, and remind those
    who have not: the organisers. A participant answers through their personal link."""
    return can_organise(user, hearing)


# --- public notice and observers --------------------------------------------------------


def can_publish_notice(user: Any, hearing: Hearing) -> bool:
    """Publish the notice: organisers, while the hearing is scheduled and not yet noticed."""
    return (can_organise(user, hearing) and hearing.status == HearingStatus.SCHEDULED
            and hearing.notice_published_at is None)


def can_manage_observers(user: Any, hearing: Hearing) -> bool:
    """See the observer list (numbers masked) and check people in at the door: organisers,
    and the presiding officer and hearing clerk (who stand at the door on the day)."""
    return can_organise(user, hearing) or can_run(user, hearing)


def can_see_notice(hearing: Hearing) -> bool:
    """The public notice page: a publicly visible hearing, or one of them since cancelled
    (people who read its notice must learn it is off); never a closed hearing."""
    if is_publicly_visible(hearing):
        return True
    return (hearing.is_public and hearing.notice_published_at is not None
            and hearing.status == HearingStatus.CANCELLED)


def observer_may_watch_online(observer: Any, hearing: Hearing) -> bool:
    """An observer's own page offers the online view (/watch/<token>): a seated observer
    of a hearing held online (or in a room and online) that is still publicly visible."""
    return (observer.status == "seated" and hearing.place_kind in ("online", "both")
            and is_publicly_visible(hearing))


# --- live hearing and minutes -----------------------------------------------------------


# --- deliberation -----------------------------------------------------------------------


# --- signed record ----------------------------------------------------------------------
def can_freeze_record(user: Any, hearing: Hearing) -> bool:
    """Freeze the minutes for signing, make a new version, hold the tablet for signers:
    the presiding officer and the hearing clerk (can_run); the admin as the fallback
    when neither can (as everywhere else but deliberation)."""
    return can_run(user, hearing) or is_admin(user)


def can_file_record(user: Any, hearing: Hearing) -> bool:
    """File the signed record into the case file: the organisers, or who ran it."""
    return can_organise(user, hearing) or can_run(user, hearing)
