"""The signed record: freeze the minutes, sign or refuse, file into the case file.

- Freeze (presiding officer or clerk, once the hearing has ended): the record text is
  assembled from the hearing (record_text.py) and stored as RecordVersion(kind="record",
  number n) with the SHA-256 of its UTF-8 bytes; the hearing waits for signatures. The
  minutes are locked while it does (live part: can_write_minutes). To correct them the
  record is unfrozen (back to the running state, minutes open again) and frozen anew as
  number n+1: signatures of version n stay recorded against it and count no more.
- Sign: each signer signs (a drawn PNG or their typed name, having read it) or refuses
  with a reason, once per version, on their own device (personal link) or on the clerk's
  tablet (witnessed by the clerk). Everyone active signs the record; the panel and the
  presiding officer also sign the deliberation record (kind "deliberation", frozen by the
  deliberation part) — every kind that exists is signed, its latest version only. The
  deliberation record is private to those who deliberated: never on the clerk's tablet.
  A drawn signature is stored in the blob store by its SHA-256 (Signature.image_sha256).
- File (organisers or who ran it): allowed when every signer signed or refused, or when
  the clerk confirms that those who did not are recorded as not having signed. A refusal
  never blocks (file_record).

Operations flush, never commit; they raise portal.errors exceptions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings import case_clock, deliberation
from hearings import permissions as perm
from hearings.locking import lock_hearing
from hearings.models import (
    Attendance,
    Hearing,
    HearingStatus,
    Participant,
    ParticipantRole,
    RecordVersion,
    Signature,
    SignatureStatus,
    SignMethod,
    Stage,
)
from hearings.record_text import assemble_text
from portal.casefiles import blobs, issued
from portal.casefiles import operations as case_ops
from portal.casefiles.models import DocumentKind
from portal.enums import labels
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from video.models import Recording

RECORD = "record"
DELIBERATION = "deliberation"
#: the kinds in the order they are shown and signed
KINDS = (RECORD, DELIBERATION)
KIND_LABELS: dict[str, Any] = {RECORD: _l("Hearing record"),
                               DELIBERATION: _l("Deliberation record")}
#: a drawn signature, as sent by static/js/hearings/signature-pad.js
MAX_SIGNATURE_BYTES = 200 * 1024
MAX_SIGNATURE_PIXELS = 4000 * 2000
#: dark pixels a drawing needs to count as a signature (a dot is not one)
MIN_INK_PIXELS = 30
MAX_REASON = 1000


class RecordRefused(DomainError):
    """A rule of the record refused the action (400, the message shown)."""


# ---------------------------------------------------------------- reading


def versions_of(session: Session, hearing: Hearing) -> list[RecordVersion]:
    return list(session.scalars(
        select(RecordVersion).where(RecordVersion.hearing_id == hearing.id)
        .order_by(RecordVersion.kind, RecordVersion.number)))


def latest_versions(session: Session, hearing: Hearing) -> dict[str, RecordVersion]:
    """The version to sign of each kind that exists (the highest number), in KINDS order."""
    latest: dict[str, RecordVersion] = {}
    for v in versions_of(session, hearing):
        latest[v.kind] = v
    return {k: latest[k] for k in sorted(latest, key=_kind_order)}


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def signers(hearing: Hearing, kind: str) -> list[Participant]:
    """Who signs a version of `kind`: everyone active (a panel member who declined and was
    replaced does not); the deliberation record, the panel and the presiding officer."""
    if kind == DELIBERATION:
        return [p for p in hearing.participants if perm.is_deliberating_member(p)]
    return [p for p in hearing.participants
            if p.is_active and (p.role != ParticipantRole.PANEL or perm.sits_on_panel(p))]


def signatures_of(session: Session, version: RecordVersion) -> dict[int, Signature]:
    return {s.participant_id: s for s in session.scalars(
        select(Signature).where(Signature.record_version_id == version.id)
        .order_by(Signature.signed_at, Signature.id))}


def may_read(kind: str, witness: Any, hearing: Hearing) -> bool:
    """Whether the one holding the device may read a record of `kind`: the deliberation
    record is private to the panel and the presiding officer, so the clerk's tablet does
    not show it (only the presiding officer's does); a signer's own device shows it to
    them (signers())."""
    return kind != DELIBERATION or witness is None or perm.can_deliberate(witness, hearing)


def signable_for(session: Session, participant: Participant, witness: Any = None
                 ) -> list[RecordVersion]:
    """The latest version of each kind this participant signs (and the device's holder
    may read)."""
    hearing = participant.hearing
    return [v for kind, v in latest_versions(session, hearing).items()
            if participant in signers(hearing, kind) and may_read(kind, witness, hearing)]


def pending_for(session: Session, participant: Participant, witness: Any = None
                ) -> list[RecordVersion]:
    """The versions this participant still has to sign (none unless awaiting signatures)."""
    if participant.hearing.status != HearingStatus.SIGNING:
        return []
    return [v for v in signable_for(session, participant, witness)
            if participant.id not in signatures_of(session, v)]


def pending_on_device(hearing: Hearing, rows: list[SignerRow], witness: Any
                      ) -> set[int]:
    """The participants who still have something to sign on `witness`'s device: the
    same answer as pending_for for each, read from signing_state's rows (no queries)."""
    if hearing.status != HearingStatus.SIGNING:
        return set()
    return {r.participant.id for r in rows
            if any(sig is None and may_read(kind, witness, hearing)
                   for kind, sig in r.by_kind.items())}


@dataclass
class SignerRow:
    participant: Participant
    #: kind → the signature on its latest version (None: not yet); missing kinds: n/a
    by_kind: dict[str, Signature | None] = field(default_factory=dict)

    @property
    def is_done(self) -> bool:
        return all(s is not None for s in self.by_kind.values())


def signing_state(session: Session, hearing: Hearing) -> list[SignerRow]:
    """Each signer of the latest versions, with where they stand on each kind."""
    latest = latest_versions(session, hearing)
    sigs = {kind: signatures_of(session, v) for kind, v in latest.items()}
    rows: dict[int, SignerRow] = {}
    for kind in latest:
        for p in signers(hearing, kind):
            row = rows.setdefault(p.id, SignerRow(p))
            row.by_kind[kind] = sigs[kind].get(p.id)
    return sorted(rows.values(), key=lambda r: r.participant.id)


def not_signed(session: Session, hearing: Hearing) -> list[SignerRow]:
    return [r for r in signing_state(session, hearing) if not r.is_done]


def missing_by_kind(session: Session, hearing: Hearing) -> dict[str, list[str]]:
    """Kind → the names of those who neither signed nor refused its latest version."""
    out: dict[str, list[str]] = {}
    for row in signing_state(session, hearing):
        for kind, sig in row.by_kind.items():
            if sig is None:
                out.setdefault(kind, []).append(row.participant.name)
    return out


def unsigned_text(session: Session, hearing: Hearing) -> str:
    """Who neither signed nor refused, record by record: a member who signed the hearing
    record but not yet the deliberation record is named under the latter only."""
    by_kind = missing_by_kind(session, hearing)
    if set(by_kind) <= {RECORD}:
        return "、".join(by_kind.get(RECORD, []))
    return "；".join(str(_l("%(record)s: %(names)s", record=KIND_LABELS.get(kind, kind),
                            names="、".join(names))) for kind, names in by_kind.items())


# ---------------------------------------------------------------- freezing


def _locked(session: Session, hearing: Hearing) -> Hearing:
    """The hearing row, locked until the transaction ends and read again: two clerks'
    clicks take turns, the second sees what the first did."""
    lock_hearing(session, hearing)
    return hearing


def can_freeze_now(hearing: Hearing) -> bool:
    return (hearing.stage == Stage.ENDED
            and hearing.status not in (HearingStatus.FILED, HearingStatus.CANCELLED))


def freeze(session: Session, user: Any, hearing: Hearing) -> RecordVersion:
    """Freeze the minutes as the next version of the record; the hearing awaits
    signatures. Refused before the hearing has ended, after filing, and when nothing
    changed since the version being signed (it would only void its signatures)."""
    if not perm.can_freeze_record(user, hearing):
        raise NotAllowed(_l("Only the presiding officer or the hearing clerk may freeze "
                            "the record."))
    hearing = _locked(session, hearing)
    if hearing.status in (HearingStatus.FILED, HearingStatus.CANCELLED):
        raise RecordRefused(_l("The record of this hearing is filed; it can no longer "
                               "change."))
    if hearing.stage != Stage.ENDED:
        raise RecordRefused(_l("The minutes can be frozen only once the hearing has "
                               "ended."))
    text = assemble_text(session, hearing)
    _freeze_deliberation(session, user, hearing)
    previous = latest_versions(session, hearing).get(RECORD)
    if (previous is not None and previous.text == text
            and hearing.status == HearingStatus.SIGNING):
        raise RecordRefused(_l("Nothing changed since version %(n)d, which is being "
                               "signed.", n=previous.number))
    version = RecordVersion(hearing_id=hearing.id, kind=RECORD,
                            number=(previous.number + 1) if previous else 1, text=text,
                            sha256=text_sha256(text), frozen_by_id=user.id,
                            frozen_at=utcnow())
    session.add(version)
    hearing.status = HearingStatus.SIGNING
    session.flush()
    return version


def _freeze_deliberation(session: Session, user: Any, hearing: Hearing) -> None:
    """The panel's votes go on the file with the record: when the panel deliberated and
    no deliberation record is frozen yet, freeze it now (refused, with the deliberation's
    own message, while votes or the panel's opinion are missing)."""
    if deliberation.voters(hearing) and DELIBERATION not in latest_versions(session,
                                                                            hearing):
        deliberation.freeze_deliberation_record(session, user, hearing)


def unfreeze(session: Session, user: Any, hearing: Hearing) -> None:
    """Open the minutes again to correct them: the hearing goes back to the running
    state; the next freeze makes a new version and the signatures start over (those on
    the earlier version stay recorded against it)."""
    if not perm.can_freeze_record(user, hearing):
        raise NotAllowed(_l("Only the presiding officer or the hearing clerk may reopen "
                            "the minutes."))
    hearing = _locked(session, hearing)
    if hearing.status != HearingStatus.SIGNING:
        raise RecordRefused(_l("The record is not awaiting signatures."))
    hearing.status = HearingStatus.RUNNING
    session.flush()


def text_sha256(text: str) -> str:
    """The record's fingerprint: SHA-256 of its text as UTF-8 (what the QR code carries)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- signing


def signature_png(data_url: str | None) -> bytes:
    """The PNG bytes of a drawn signature sent as a data: URL; RecordRefused when it is
    not a PNG, too large, or blank."""
    prefix = "data:image/png;base64,"
    raw = (data_url or "").strip()
    if not raw.startswith(prefix):
        raise RecordRefused(_l("The drawn signature could not be read. Please draw it "
                               "again, or type your name instead."))
    if len(raw) > len(prefix) + (MAX_SIGNATURE_BYTES * 4) // 3 + 4:
        raise RecordRefused(_l("The drawn signature is too large (at most %(kb)d KB). "
                               "Please clear it and sign again.",
                               kb=MAX_SIGNATURE_BYTES // 1024))
    try:
        data = base64.b64decode(raw[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RecordRefused(_l("The drawn signature could not be read. Please draw it "
                               "again, or type your name instead."))
    if len(data) > MAX_SIGNATURE_BYTES:
        raise RecordRefused(_l("The drawn signature is too large (at most %(kb)d KB). "
                               "Please clear it and sign again.",
                               kb=MAX_SIGNATURE_BYTES // 1024))
    if _ink_pixels(data) < MIN_INK_PIXELS:
        raise RecordRefused(_l("The signature box is empty. Please sign in the box with "
                               "your finger or the mouse, or type your name instead."))
    return data


def _ink_pixels(data: bytes) -> int:
    """Dark pixels of the image laid on white (0 when it cannot be decoded)."""
    from PIL import Image  # WeasyPrint's dependency; only needed here

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or img.width * img.height > MAX_SIGNATURE_PIXELS:
                return 0
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            grey = Image.alpha_composite(white, rgba).convert("L")
            return sum(grey.histogram()[:160])
    except Exception:  # noqa: BLE001 - any undecodable image is "not a signature"
        return 0


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def _check_signable(session: Session, participant: Participant,
                    version: RecordVersion, witness: Any) -> Hearing:
    hearing = _locked(session, participant.hearing)
    if version.hearing_id != hearing.id:
        raise RecordRefused(_l("This record is not of your hearing."), status=404)
    if hearing.status != HearingStatus.SIGNING:
        raise RecordRefused(_l("The record is not awaiting signatures (it may have been "
                               "filed, or reopened to correct the minutes)."))
    if latest_versions(session, hearing).get(version.kind) is not version:
        raise RecordRefused(_l("A newer version of this record was made; please read and "
                               "sign that one."))
    if participant not in signers(hearing, version.kind):
        raise RecordRefused(_l("You are not among those who sign this record."),
                            status=403)
    if not may_read(version.kind, witness, hearing):
        raise RecordRefused(_l("The deliberation record is signed by the panel on their "
                               "own devices, or on the presiding officer's."), status=403)
    earlier = signatures_of(session, version).get(participant.id)
    if earlier is not None:
        raise RecordRefused(_l("You have already signed this version of the record.")
                            if earlier.status == SignatureStatus.SIGNED else
                            _l("Your refusal to sign this version is already recorded."))
    return hearing


def _method(witness: Any) -> tuple[str, int | None]:
    if witness is None:
        return SignMethod.OWN_DEVICE, None
    return SignMethod.TABLET, witness.id


def sign(session: Session, participant: Participant, version: RecordVersion, *,
         has_read: bool, drawn: str | None = None, typed_name: str | None = None,
         witness: Any = None) -> Signature:
    """Sign `version` for `participant`: a drawn PNG (data: URL) or the typed full name,
    after confirming having read it. `witness`: the clerk holding the tablet (None: the
    participant's own device)."""
    _check_signable(session, participant, version, witness)
    if not has_read:
        raise RecordRefused(_l("Please confirm that you have read the record."))
    image_sha: str | None = None
    name = participant.name
    if (drawn or "").strip():
        image_sha, _size = blobs.store_bytes(signature_png(drawn))
    elif (typed_name or "").strip():
        if not _same_name(typed_name or "", participant.name):
            raise RecordRefused(_l("The name typed does not match the name on the record "
                                   "(%(name)s). Type it as written there.",
                                   name=participant.name))
        name = (typed_name or "").strip()
    else:
        raise RecordRefused(_l("Please draw your signature in the box, or type your full "
                               "name to sign."))
    method, witness_id = _method(witness)
    signature = Signature(record_version_id=version.id, participant_id=participant.id,
                          status=SignatureStatus.SIGNED, method=method,
                          image_sha256=image_sha, signer_name=name[:100],
                          witnessed_by_id=witness_id, signed_at=utcnow())
    session.add(signature)
    session.flush()
    return signature


def refuse(session: Session, participant: Participant, version: RecordVersion, *,
           reason: str, witness: Any = None) -> Signature:
    """Record the participant's refusal to sign, with its reason (it never blocks
    filing)."""
    _check_signable(session, participant, version, witness)
    reason = (reason or "").strip()
    if not reason:
        raise RecordRefused(_l("Please give the reason for refusing to sign."))
    if len(reason) > MAX_REASON:
        raise RecordRefused(_l("The reason is too long (at most %(n)d characters).",
                               n=MAX_REASON))
    method, witness_id = _method(witness)
    signature = Signature(record_version_id=version.id, participant_id=participant.id,
                          status=SignatureStatus.REFUSED, method=method,
                          refusal_reason=reason, signer_name=participant.name[:100],
                          witnessed_by_id=witness_id, signed_at=utcnow())
    session.add(signature)
    session.flush()
    return signature


def version_of(session: Session, hearing: Hearing, version_id: int | None
               ) -> RecordVersion:
    version = session.get(RecordVersion, version_id) if version_id else None
    if version is None or version.hearing_id != hearing.id:
        raise RecordRefused(_l("This record version does not exist. Please reload the "
                               "page."))
    return version


# ---------------------------------------------------------------- filing


@dataclass
class Filed:
    """What filing put into the case file."""

    record_document: Any
    deliberation_document: Any | None
    #: the SHA-256 of each PDF filed (also registered as issued)
    pdf_hashes: list[str]
    not_signed: list[str]
    #: who has not signed which record, in words ("听证笔录：甲、乙；评议笔录：丙")
    not_signed_text: str = ""


def may_file_now(session: Session, hearing: Hearing) -> bool:
    return (hearing.status == HearingStatus.SIGNING
            and RECORD in latest_versions(session, hearing))


def file_record(session: Session, user: Any, hearing: Hearing, *,
                confirm_unsigned: bool = False) -> Filed:
    """File the signed record: the record's PDF and the deliberation record's (restricted
    to office staff), registered as issued (the PDFs' and the texts' hashes), one
    "hearing_record_filed" event with the panel's opinion, the attendance, the signatures
    and the recordings of the hearing's video room; the re-review clock resumes; the
    hearing is filed. Those who neither signed nor refused block it unless
    `confirm_unsigned` (the clerk confirms they are recorded as not having signed)."""
    from hearings.record_pdf import record_pdf  # it imports this module

    if not perm.can_file_record(user, hearing):
        raise NotAllowed(_l("Only the organisers or who ran the hearing may file its "
                            "record."))
    hearing = _locked(session, hearing)
    if hearing.status == HearingStatus.FILED:
        raise RecordRefused(_l("The record of this hearing is already filed."))
    latest = latest_versions(session, hearing)
    if hearing.status != HearingStatus.SIGNING or RECORD not in latest:
        raise RecordRefused(_l("Freeze the minutes and collect the signatures before "
                               "filing the record."))
    if DELIBERATION not in latest and deliberation.voters(hearing):
        raise RecordRefused(_l("The deliberation record is not frozen: reopen the minutes "
                               "and freeze them again, so that the panel's votes are filed "
                               "with the record."))
    missing = [r.participant.name for r in not_signed(session, hearing)]
    if missing and not confirm_unsigned:
        raise RecordRefused(_l(
            "%(n)d participants have neither signed nor refused: %(names)s. Confirm that "
            "they are recorded as not having signed, or wait for them.",
            n=len(missing), names=unsigned_text(session, hearing)))
    case = hearing.case
    documents: dict[str, Any] = {}
    hashes: list[str] = []
    for kind, version in latest.items():
        pdf = record_pdf(session, hearing, version)
        public_kind = "hearing_deliberation" if kind == DELIBERATION else "hearing_record"
        documents[kind] = case_ops.add_document(
            session, user, case, title=f"{KIND_LABELS.get(kind, kind)}：{hearing.title}",
            data=pdf, original_name=f"hearing-{hearing.id}-{kind}-v{version.number}.pdf",
            media_type="application/pdf",
            # the votes by name: the office only, never the agency (a party) by its grant
            kind=DocumentKind.CONFIDENTIAL if kind == DELIBERATION else DocumentKind.RECORD,
            is_restricted=kind == DELIBERATION)
        issued.issue(session, pdf, public_kind, case)
        issued.issue_hash(session, version.sha256, public_kind, case)
        hashes.append(hashlib.sha256(pdf).hexdigest())
    case_ops.record_event(session, user, case, "hearing_record_filed",
                          _filed_payload(session, hearing, latest, documents))
    case_clock.resume_after_hearing(session, user, hearing)
    hearing.status = HearingStatus.FILED
    hearing.filed_at = utcnow()
    session.flush()
    return Filed(documents[RECORD], documents.get(DELIBERATION), hashes, missing,
                 unsigned_text(session, hearing) if missing else "")


def _filed_payload(session: Session, hearing: Hearing, latest: dict[str, RecordVersion],
                   documents: dict[str, Any]) -> dict[str, Any]:
    """The event, readable on the timeline (its title and text) and complete for the
    record (every signature, the attendance, the recordings by id)."""
    record = latest[RECORD]
    sigs = signatures_of(session, record)
    signed = [s.signer_name for s in sigs.values() if s.status == SignatureStatus.SIGNED]
    refused = [{"name": s.signer_name, "reason": s.refusal_reason}
               for s in sigs.values() if s.status == SignatureStatus.REFUSED]
    recordings = list(session.scalars(select(Recording).where(
        Recording.room_id == hearing.video_room_id).order_by(Recording.id))) \
        if hearing.video_room_id else []
    missing = missing_by_kind(session, hearing)
    attendance: dict[str, Any] = {str(k): v for k, v in labels(Attendance).items()}
    parts = [str(_l("Signed: %(names)s", names="、".join(signed) or "—"))]
    if refused:
        parts.append(str(_l("Refused to sign: %(list)s", list="；".join(
            f"{r['name']}（{r['reason']}）" for r in refused))))
    if missing.get(RECORD):
        parts.append(str(_l("Did not sign: %(names)s", names="、".join(missing[RECORD]))))
    if (hearing.panel_opinion or "").strip():
        parts.append(str(_l("Opinion of the panel: %(text)s",
                            text=hearing.panel_opinion.strip())))
    return {
        "title": str(_l("The record of hearing %(title)s was filed", title=hearing.title)),
        "text": "。".join(parts),
        "hearing_id": hearing.id,
        "record_version": record.number, "record_sha256": record.sha256,
        "documents": {k: d.id for k, d in documents.items()},
        "deliberation_sha256": latest[DELIBERATION].sha256 if DELIBERATION in latest
        else None,
        "signed": signed, "refused": refused, "not_signed": missing.get(RECORD, []),
        "deliberation_not_signed": missing.get(DELIBERATION, []),
        "panel_opinion": hearing.panel_opinion or "",
        "attendance": [{"name": p.name, "role": p.role,
                        "attendance": str(attendance.get(p.attendance, p.attendance)),
                        "checked_in_at": p.checked_in_at.isoformat()
                        if p.checked_in_at else None}
                       for p in hearing.participants if p.is_active],
        "recordings": [{"recording_id": r.id, "status": r.status,
                        "document_id": r.document_id, "sha256": r.sha256,
                        "duration_s": r.duration_s} for r in recordings],
    }
