from slug_api.app import app


def test_slug_transliterates():
    got = app.test_client().get("/slug", query_string={"title": "Crème brûlée: 10 façons"}).get_json()
    assert got["slug"] == "creme-brulee-10-facons"
