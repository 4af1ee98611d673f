from portal.auth.roles import Role


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["db"] == "ok"


def test_the_root_offers_the_query_page_to_people_without_an_account(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/query"' in page and "Check the progress of my petition" in page
    assert 'href="/login"' in page and "Staff login" in page
    assert "Welcome," not in page  # not the staff home
    query = client.get("/query")
    assert query.status_code == 200 and 'name="code"' in query.get_data(as_text=True)


def test_staff_pages_need_login(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_clerk_logs_in_and_sees_registry_link(client, login_as):
    login_as(Role.CLERK)
    page = client.get("/").get_data(as_text=True)
    assert "/people/" in page
