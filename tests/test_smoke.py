from portal.auth.roles import Role


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["db"] == "ok"


def test_home_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_clerk_logs_in_and_sees_registry_link(client, login_as):
    login_as(Role.CLERK)
    page = client.get("/").get_data(as_text=True)
    assert "/people/" in page
