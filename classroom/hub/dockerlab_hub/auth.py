"""Sign-in for a workshop: the room's code makes an account, the learner's own password keeps it theirs.

- A learner's **first** sign-in: a user name, a password they choose, and the workshop code the instructor
  announces (the login form's third field). That makes their account: name and a PBKDF2 hash of the password
  in a JSON file on the hub's volume.
- Every later sign-in (the form, or the REST API ``POST /hub/api/users/NAME/tokens`` with
  ``{"auth": {"username", "password"}}``): name and password, no code.
- Knowing the code is not enough to take someone else's name: a name that has an account needs its password.
- The instructor signs in with their own name and password (set when the classroom starts) and is the hub's
  admin. ``classroom.py close-signup`` (a flag file) stops new accounts once the room is in; ``classroom.py
  reset-password NAME`` removes a learner's account so they can sign up again (their files stay).

User names become Docker object names and the learner's course namespace, so they are kept short and simple:
lower-case letters, digits and dashes, starting with a letter.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Int, Unicode, default

ITERATIONS = 200_000
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,19}$")


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return "pbkdf2_sha256${}${}${}".format(ITERATIONS, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(got, base64.b64decode(digest))


class LearnerStore:
    """The learners' accounts: ``{name: {"password": hash, "created": time}}`` in one JSON file (mode 600)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".learners-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def get(self, name: str) -> dict | None:
        return self._read().get(name)

    def names(self) -> list[str]:
        return sorted(self._read())

    def create(self, name: str, password: str) -> bool:
        """Make the account; False when the name is taken (two first sign-ins racing for one name)."""
        with self._lock:
            data = self._read()
            if name in data:
                return False
            data[name] = {"password": hash_password(password), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            self._write(data)
            return True

    def remove(self, name: str) -> bool:
        with self._lock:
            data = self._read()
            if data.pop(name, None) is None:
                return False
            self._write(data)
            return True


class WorkshopAuthenticator(Authenticator):
    """Learners sign up with the workshop code, then sign in with their own password; the instructor is admin."""

    workshop_code = Unicode("", config=True, help="The code learners type at their first sign-in.")
    instructor = Unicode("instructor", config=True, help="The instructor's user name (the hub's admin).")
    instructor_password = Unicode("", config=True, help="The instructor's password (empty: no instructor sign-in).")
    store_path = Unicode("learners.json", config=True, help="Where the learners' accounts are kept.")
    signup_closed_file = Unicode("", config=True,
                                 help="When this file exists, the workshop code makes no new account.")
    min_password_length = Int(6, config=True)

    @default("allow_all")
    def _allow_all_default(self):
        return True  # the workshop code is the gate: whoever passes authenticate() may use the hub

    @default("admin_users")
    def _admin_users_default(self):
        return {self.instructor}

    @default("request_otp")
    def _request_otp_default(self):
        return True  # the login form's third field carries the workshop code

    @default("otp_prompt")
    def _otp_prompt_default(self):
        return (f"Workshop code (first sign-in only: choose your password then, {self.min_password_length}+ "
                "characters; later sign in with name and password):")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.store = LearnerStore(self.store_path)

    @property
    def signup_open(self) -> bool:
        return not (self.signup_closed_file and os.path.exists(self.signup_closed_file))

    def validate_username(self, username: str) -> bool:
        return bool(NAME_RE.match(username)) and super().validate_username(username)

    async def authenticate(self, handler, data):
        data = data or {}
        name = self.normalize_username(str(data.get("username") or "").strip())
        password = str(data.get("password") or "")
        code = str(data.get("otp") or data.get("workshop_code") or "").strip()
        if not NAME_RE.match(name) or not password:
            return None
        if name == self.instructor:
            if self.instructor_password and hmac.compare_digest(password.encode(), self.instructor_password.encode()):
                return {"name": name, "admin": True}
            self.log.warning("failed instructor sign-in")
            return None
        account = self.store.get(name)
        if account is not None:
            if check_password(password, account.get("password", "")):
                return {"name": name}
            self.log.warning("wrong password for learner %s", name)
            return None
        # a first sign-in: the workshop code makes the account
        if not self.workshop_code or not code or not hmac.compare_digest(code.encode(), self.workshop_code.encode()):
            self.log.warning("sign-up of %s refused: %s", name, "no workshop code" if not code else "wrong workshop code")
            return None
        if not self.signup_open:
            self.log.warning("sign-up of %s refused: sign-up is closed", name)
            return None
        if len(password) < self.min_password_length:
            self.log.warning("sign-up of %s refused: password shorter than %d", name, self.min_password_length)
            return None
        if not self.store.create(name, password):
            return None  # someone took the name a moment ago
        self.log.info("new learner %s signed up with the workshop code", name)
        return {"name": name}
