"""The page shell's plumbing: deny-by-default login, permission decorators,
htmx-aware rendering, navigation by role, paging and error pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import LazyString
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from htmx_flask import make_response as htmx_response
from jinja2_fragments.flask import render_block
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from portal import idempotency, transaction
from portal.access_log import redact_url
from portal.errors import DomainError, NotAllowed, NotFound, StaleEdit
from portal.extensions import babel, db
from portal.i18n import lazy_gettext as _l
from portal.i18n import request_translations
from portal.timeutil import beijing

F = TypeVar("F", bound=Callable[..., Any])
__all__ = ["DomainError", "NotAllowed", "NotFound", "StaleEdit", "default_answer",
           "flash_and_redirect", "on_error", "public", "render", "require"]
LOCALES = ("zh_CN", "en")


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors. Everything else needs a login."""
    view.portal_public = True  # type: ignore[attr-defined]
    return view


def require(check: Callable[[Any], bool]) -> Callable[[F], F]:
    """Allow the view only when check(current_user) is true; 403 otherwise."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not check(current_user):
                from flask import abort

                abort(403)
            return view(*args, **kwargs)

        wrapper.portal_check = check  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def render(template: str, block: str | None = "content", status: int = 200, **context: Any):
    """A full page normally; only `block` when htmx asks (HX-Request)."""
    htmx = getattr(request, "htmx", None)  # htmx-flask's view of the HX-* headers
    if block and htmx and not htmx.boosted:
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after login."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@dataclass(frozen=True)
class NavItem:
    label: LazyString | str
    endpoint: str
    check: Callable[[Any], bool]
    order: int = 50


def add_nav(app: Flask, label: LazyString | str, endpoint: str,
            check: Callable[[Any], bool], order: int = 50) -> None:
    app.extensions.setdefault("portal.nav", []).append(NavItem(label, endpoint, check, order))


def nav_for(user: Any) -> list[NavItem]:
    items: list[NavItem] = current_app.extensions.get("portal.nav", [])
    if not getattr(user, "is_authenticated", False):
        return []
    return sorted((i for i in items if i.check(user)), key=lambda i: i.order)


def select_locale() -> str:
    if not has_request_context():  # CLI commands and the worker speak the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get("locale") or request.cookies.get("portal_lang")
    if chosen in LOCALES:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


#: the largest id a database column holds (BIGINT); a larger one in a URL names nothing
MAX_ID = 2**63 - 1
#: pages beyond this are not asked for by people; the offset stays far from any overflow
MAX_PAGE = 100_000


class BoundedInt(IntegerConverter):
    """`<int:...>` in every route: digits beyond a BIGINT answer 404 at routing, instead
    of an OverflowError from the database driver; only ASCII digits (\\d would take
    full-width ones too)."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def page_args(default_size: int = 50, max_size: int = 200) -> tuple[int, int]:
    """page and per_page from the query string, clamped to sane values."""
    try:
        page = min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        page = 1
    try:
        size = int(request.args.get("per_page", str(default_size)))
    except ValueError:
        size = default_size
    return page, min(max(size, 10), max_size)


ERROR_MESSAGES: dict[int, LazyString] = {
    400: _l("The request could not be understood. Please check what you entered and try again."),
    403: _l("You do not have permission to open this page."),
    404: _l("This page does not exist. It may have been moved or deleted."),
    405: _l("This action is not allowed here."),
    409: _l("Someone else changed this record while you were editing it."),
    413: _l("The file is too large."),
    429: _l("Too many attempts. Please wait a while and try again."),
    500: _l("Something went wrong on our side. Your work was not lost; please try again."),
}


#: every page's: scripts and styles only from the portal's own files (no inline script,
#: handler or style: static/js/portal.js does what inline handlers did); pictures and
#: recordings also from blob:/data: URLs made by the page; never framed
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
])


def _error_page(code: int, message: Any = None) -> ResponseReturnValue:
    text = message or ERROR_MESSAGES.get(code, ERROR_MESSAGES[500])
    if request.accept_mimetypes.best == "application/json" or request.path == "/healthz":
        return {"error": str(text)}, code
    return render("error.html", block="content", status=code, code=code, message=text)


def _require_login() -> ResponseReturnValue | None:
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "portal_public", False):
        return None
    if current_user.is_authenticated:
        return None
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if getattr(request, "htmx", None):
        # htmx would swap the login page into a fragment: have it load the page instead
        return htmx_response("", 401, redirect=login_url)
    flash(_l("Please log in to continue."), "info")
    return redirect(login_url)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt  # before any blueprint adds its rules
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.before_request(_require_login)

    @app.after_request
    def _headers(response: Any) -> Any:
        response.vary.add("HX-Request")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # a response that set a stricter one (a document sent from a case file) keeps it;
        # a PDF gets none (the browser's PDF viewer runs scripts of its own)
        if response.mimetype != "application/pdf":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    @app.context_processor
    def _shell() -> dict[str, Any]:
        return {
            "nav_items": nav_for(current_user),

            "current_locale": select_locale(),
            # the colon after a label: full-width in Chinese (姓名：), ": " in English
            "colon": "：" if select_locale().startswith("zh") else ": ",
            "settings": current_app.extensions["portal.settings"],
            # a stored time in Beijing time (pages may pass their own `local` still)
            "local": beijing,
        }

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        message = getattr(error, "portal_message", None)
        if isinstance(error, CSRFError):
            message = _l("Your form expired. Please reload the page and submit it again.")
        if isinstance(error, RateLimitExceeded) and error.limit.error_message:
            message = error.description  # the limit's own, translated message
        return _error_page(code, message)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> ResponseReturnValue:
        # raised outside a view's unit of work (a before_request hook, a converter)
        transaction.rollback(db.session)
        return _error_page(error.status, error.message)

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(error: Exception) -> ResponseReturnValue:
        # a number too large for the database (an id or a field typed by hand): the
        # request is wrong, not the server
        transaction.rollback(db.session)
        return _error_page(400)

    @app.errorhandler(Exception)
    def _crash(error: Exception) -> ResponseReturnValue:
        # the path may hold a join token: the log gets it masked, like the access log
        app.logger.exception("unhandled error on %s", redact_url(request.path))
        transaction.rollback(db.session)
        return _error_page(500)


# --- the request shape -------------------------------------------------------------------

_ON_ERROR = "portal_on_error"


def on_error(respond: Callable[[DomainError], ResponseReturnValue]) -> None:
    """Say how this view answers a domain error raised after this call: `respond(error)`
    runs after the rollback (typically a flash and a redirect back, or the form again
    with the user's input and `error.status`). Without it: the message as a 4xx fragment
    on htmx, the error page otherwise."""
    setattr(g, _ON_ERROR, respond)


def flash_and_redirect(url: str, code: int = 303
                       ) -> Callable[[DomainError], ResponseReturnValue]:
    """The usual `on_error` answer of a form posted from a page: back there, with the
    message on top."""

    def respond(error: DomainError) -> ResponseReturnValue:
        flash(str(error.message), "error")
        return redirect(url, code=code)

    return respond


def _already_done(error: idempotency.AlreadyDone) -> ResponseReturnValue | None:
    """The generic answer to a form sent twice: a redirect to the first one's result
    (looked up after the rollback when the two raced)."""
    url = error.url or idempotency.previous_result(db.session, error.key)
    if not url:
        return None
    if error.notice:
        flash(str(error.notice), "info")
    return redirect(url, code=error.code)


def _answer_domain_error(error: DomainError) -> ResponseReturnValue:
    if isinstance(error, idempotency.AlreadyDone):
        answer = _already_done(error)
        if answer is not None:
            g.pop(_ON_ERROR, None)
            return answer
    respond = g.pop(_ON_ERROR, None)
    if respond is not None and error.status != 403:
        return respond(error)
    return default_answer(error)


def default_answer(error: DomainError) -> ResponseReturnValue:
    """The answer to a domain error when the view said nothing else: the message as a 4xx
    fragment on htmx, the error page otherwise. An `on_error` callback that handles only
    some errors returns this for the others."""
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted:
        return render("components/_error_message.html", block=None, status=error.status,
                      message=error.message)
    return _error_page(error.status, error.message)


def unit_of_work(view: F) -> F:
    """load → authorize → one operation → commit once → after-commit callbacks. Every
    view of the portal is wrapped in it (`wrap_views`), so views hold no commit,
    rollback or try of their own."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return transaction.run(db.session, lambda: view(*args, **kwargs),
                               _answer_domain_error)

    wrapper.portal_unit_of_work = True  # type: ignore[attr-defined]
    return cast(F, wrapper)


def wrap_views(app: Flask) -> None:
    """Put every registered view (the core's and every domain's) in `unit_of_work`."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static" and not getattr(view, "portal_unit_of_work", False):
            app.view_functions[endpoint] = unit_of_work(view)
