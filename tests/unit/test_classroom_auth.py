"""The classroom's workshop authenticator (classroom/hub/dockerlab_hub/auth.py), with JupyterHub's own
Authenticator machinery (get_authenticated_user: normalisation, name validation, allow and admin checks)."""
from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyterhub", reason="the classroom dependency group is not installed (make env installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "classroom" / "hub"))

from dockerlab_hub.auth import WorkshopAuthenticator, check_password, hash_password  # noqa: E402

CODE = "blue-whale-42"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    import dockerlab_hub.auth

    monkeypatch.setattr(dockerlab_hub.auth, "ITERATIONS", 1000)  # the real count is for real passwords


@pytest.fixture
def auth(tmp_path):
    return WorkshopAuthenticator(workshop_code=CODE, instructor="teach", instructor_password="s3cret-teach",
                                 store_path=str(tmp_path / "learners.json"),
                                 signup_closed_file=str(tmp_path / "signup-closed"))


def login(auth, **data):
    return asyncio.run(auth.get_authenticated_user(None, data))


def test_password_hash_round_trip():
    h = hash_password("correct horse")
    assert check_password("correct horse", h) and not check_password("wrong horse", h)
    assert h != hash_password("correct horse")  # salted
    assert not check_password("x", "garbage")


def test_first_sign_in_needs_the_code_then_the_password_is_enough(auth, tmp_path):
    assert login(auth, username="ada", password="ada-pass") is None  # no code, no account
    assert login(auth, username="ada", password="ada-pass", otp="wrong") is None
    assert login(auth, username="ada", password="short", otp=CODE) is None  # password too short
    assert login(auth, username="ada", password="ada-pass", otp=CODE)["name"] == "ada"
    assert login(auth, username="ada", password="ada-pass")["name"] == "ada"  # later: no code
    assert login(auth, username="Ada", password="ada-pass")["name"] == "ada"  # names are normalised
    store = tmp_path / "learners.json"
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    assert "ada-pass" not in store.read_text() and "ada" in json.loads(store.read_text())


def test_the_code_does_not_open_someone_elses_account(auth):
    assert login(auth, username="bob", password="bob-pass", otp=CODE)
    assert login(auth, username="bob", password="mallory!", otp=CODE) is None
    assert login(auth, username="bob", password="mallory!") is None


def test_instructor_is_admin_and_needs_their_password(auth):
    user = login(auth, username="teach", password="s3cret-teach")
    assert user["name"] == "teach" and user["admin"] is True
    assert login(auth, username="teach", password="wrong", otp=CODE) is None  # the code is no way in
    assert auth.admin_users == {"teach"}
    no_password = WorkshopAuthenticator(workshop_code=CODE, instructor="teach", store_path=auth.store_path)
    assert login(no_password, username="teach", password="") is None


def test_names_fit_docker_object_names(auth):
    for bad in ("a", "1abc", "ada_lovelace", "ada.l", "x" * 21, "../etc", "ada lovelace"):
        assert login(auth, username=bad, password="long-enough", otp=CODE) is None, bad
    assert login(auth, username="ada-l2", password="long-enough", otp=CODE)["name"] == "ada-l2"


def test_closing_sign_up_keeps_existing_accounts(auth, tmp_path):
    assert login(auth, username="cy", password="cy-pass1", otp=CODE)
    Path(auth.signup_closed_file).touch()
    assert login(auth, username="dee", password="dee-pass", otp=CODE) is None
    assert login(auth, username="cy", password="cy-pass1")["name"] == "cy"
    assert auth.store.remove("cy") and not auth.store.remove("cy")
    assert login(auth, username="cy", password="cy-pass1") is None


def test_login_form_asks_for_the_workshop_code(auth):
    assert auth.request_otp and "Workshop code" in auth.otp_prompt
