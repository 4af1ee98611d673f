"""The root of the test suite: it only names the fixture plugins.

Shared fixtures and helpers live in real modules under tests/fixtures/, loaded for every
test folder as pytest plugins and imported by their real names, e.g.
`from tests.fixtures.core import login` -- never `from conftest import ...`.

- tests.fixtures.core       the app on each database, the rolled-back `session`, `client`,
                            `make_user`, `make_org`, `login_as`, `world` (the county with
                            its offices and staff); login(), build_app(), wait_until()
- tests.fixtures.casefiles  new_case() and what the case-file tests share
- tests.fixtures.notify     a real SMTP server, an outbox app whose commits are real
- tests.fixtures.video      loopback-only ICE, synthetic aiortc peers, media files, coturn
- tests.fixtures.browser    the demo served by gunicorn, Chromium through Playwright

A folder's own conftest.py holds only what is autouse or a hook for that folder.
`pytest_plugins` may only be declared here, in the root conftest. How a new domain's
tests look: tests/README.md."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.casefiles",
    "tests.fixtures.notify",
    "tests.fixtures.video",
    "tests.fixtures.browser",
    "tests.fixtures.hearings",
    "tests.fixtures.consultations",
]
