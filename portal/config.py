"""Settings read once from PORTAL_* environment variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("dev", "test", "production")
#: Settings.password_hasher's choices (portal/auth/operations.py)
PASSWORD_HASHERS = ("argon2", "argon2-cheap")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _count(env: dict[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(f"{name}={raw!r} must be a whole number from 0 to 10.")
    return int(raw)


def _dev_secret(data_dir: Path) -> str:
    """A random key kept in the data folder, so dev sessions survive a restart."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    secret_key: str = ""
    #: key for personal data encrypted at rest (ID and phone numbers); see portal/crypto.py
    data_key: str = ""
    data_dir: Path = Path("instance")
    #: signs the case files' daily checkpoints of their timeline heads (checkpoints.py);
    #: empty → a key derived from secret_key. Never stored in the database.
    checkpoint_key: str = ""
    database_url: str = ""
    redis_url: str = ""
    smtp_url: str = ""
    #: the SMS provider (portal/notify/sms.py); empty: text messages wait on /dev/outbox
    sms_url: str = ""
    mail_from: str = "portal@localhost"
    media_engine: str = "aiortc"
    janus_url: str = ""
    #: coturn `static-auth-secret`: TURN credentials are short-lived HMACs of it
    turn_secret: str = ""
    #: the deployment's own TURN/STUN URLs (turn:host:3478?transport=udp, ...); empty → none,
    #: and never a public STUN server
    turn_urls: tuple[str, ...] = ()
    #: the addresses the embedded media engine (aiortc) offers browsers; empty: every
    #: interface's (a server with several: the one browsers reach)
    media_hosts: tuple[str, ...] = ()
    #: minutes of inactivity after which a login session ends
    session_idle_minutes: int = 120
    #: failed logins per username within `login_lock_minutes` before lock-out
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    #: roles that must use TOTP even if the admin has not required it
    always_2fa_roles: tuple[str, ...] = ("admin",)
    #: seconds a worker may hold an outbox message before another may take it
    outbox_lease_seconds: int = 120
    outbox_max_attempts: int = 8
    #: "argon2": argon2id with argon2-cffi's defaults (RFC 9106 low-memory: t=3, 64 MiB,
    #: p=4); "argon2-cheap": argon2id at the lowest cost, for tests only (refused outside
    #: dev and test), so that tests making many accounts take milliseconds
    password_hasher: str = "argon2"
    default_locale: str = "zh_CN"
    #: reverse proxies in front of the portal (nginx in deploy/: 1). Only then is the
    #: client's address taken from X-Forwarded-For (rate limits are keyed on it); 0 trusts
    #: no header, since anyone can send one
    trusted_proxies: int = 0
    page_size: int = 50
    #: the responsible leader signs off a reply before it goes to the petitioner (cases
    #: with a responsible leader only); PORTAL_REPLY_SIGN_OFF=0 turns it off
    reply_sign_off: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def is_production(self) -> bool:
        return self.env not in ("dev", "test")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        mode = env.get("PORTAL_ENV", "dev").strip() or "dev"
        if mode not in ENVIRONMENTS:
            raise ConfigError(
                f"PORTAL_ENV={mode!r} is not one of {', '.join(ENVIRONMENTS)}."
            )
        data_dir = Path(env.get("PORTAL_DATA_DIR", "instance")).resolve()
        secret = env.get("PORTAL_SECRET_KEY", "").strip()
        if not secret:
            if mode in ("dev", "test"):
                secret = _dev_secret(data_dir) if mode == "dev" else "test-secret-key"
            else:
                raise ConfigError(
                    "PORTAL_SECRET_KEY is not set. Outside dev and test the portal will not "
                    "start without it: set it to a long random value, e.g. "
                    "`python -c 'import secrets; print(secrets.token_hex(32))'`."
                )
        data_key = env.get("PORTAL_DATA_KEY", "").strip()
        if not data_key and mode not in ("dev", "test"):
            raise ConfigError(
                "PORTAL_DATA_KEY is not set. It encrypts ID and phone numbers at rest and "
                "must be kept safe and never changed: generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        database_url = env.get("PORTAL_DATABASE_URL", "").strip() or (
            f"sqlite:///{data_dir / 'portal.db'}"
        )
        # psycopg 3 is the installed driver; plain postgresql:// would ask for psycopg2
        for plain in ("postgresql://", "postgres://"):
            if database_url.startswith(plain):
                database_url = "postgresql+psycopg://" + database_url[len(plain):]
        engine = env.get("PORTAL_MEDIA_ENGINE", "aiortc").strip() or "aiortc"
        if engine not in ("aiortc", "janus"):
            raise ConfigError(f"PORTAL_MEDIA_ENGINE={engine!r} must be aiortc or janus.")
        hasher = env.get("PORTAL_PASSWORD_HASHER", "argon2").strip() or "argon2"
        if hasher not in PASSWORD_HASHERS:
            raise ConfigError(f"PORTAL_PASSWORD_HASHER={hasher!r} must be one of "
                              f"{', '.join(PASSWORD_HASHERS)}.")
        if hasher != "argon2" and mode not in ("dev", "test"):
            raise ConfigError(f"PORTAL_PASSWORD_HASHER={hasher!r} is for tests only; "
                              "unset it (argon2) outside dev and test.")
        return cls(
            env=mode,
            secret_key=secret,
            data_key=data_key or secret,
            data_dir=data_dir,
            checkpoint_key=env.get("PORTAL_CHECKPOINT_KEY", "").strip(),
            database_url=database_url,
            redis_url=env.get("PORTAL_REDIS_URL", "").strip(),
            smtp_url=env.get("PORTAL_SMTP_URL", "").strip(),
            sms_url=env.get("PORTAL_SMS_URL", "").strip(),
            mail_from=env.get("PORTAL_MAIL_FROM", "portal@localhost").strip(),
            media_engine=engine,
            janus_url=env.get("PORTAL_JANUS_URL", "").strip(),
            turn_secret=env.get("PORTAL_TURN_SECRET", "").strip(),
            turn_urls=tuple(u.strip() for u in env.get("PORTAL_TURN_URLS", "").split(",")
                            if u.strip()),
            media_hosts=tuple(h.strip() for h in env.get("PORTAL_MEDIA_HOSTS", "").split(",")
                              if h.strip()),
            session_idle_minutes=int(env.get("PORTAL_SESSION_IDLE_MINUTES", "120")),
            outbox_lease_seconds=int(env.get("PORTAL_OUTBOX_LEASE_SECONDS", "120")),
            trusted_proxies=_count(env, "PORTAL_TRUSTED_PROXIES"),
            password_hasher=hasher,
            reply_sign_off=env.get("PORTAL_REPLY_SIGN_OFF", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)
