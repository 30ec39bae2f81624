"""The hub's login: each user's own password, checked against a PBKDF2 hash in hub/users.json (root 600).
Why not JupyterHub's SharedPasswordAuthenticator (6.1.1): anyone with the class password may log in as
any other student. The school's login: `c.JupyterHub.authenticator_class` (README, Teaching a class)."""
from __future__ import annotations

import json
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from .users import verify_password


class RosterAuthenticator(Authenticator):
    """Users from a JSON file {name: pbkdf2 hash}; a login succeeds only with that user's own password."""

    roster_file = Unicode(help="JSON file mapping user names to password hashes").tag(config=True)

    async def authenticate(self, handler, data):
        name, password = (data or {}).get("username", ""), (data or {}).get("password", "")
        hashes = json.loads(Path(self.roster_file).read_text(encoding="utf-8"))
        if name in hashes and verify_password(password, hashes[name]):
            return name
        self.log.warning("failed login for %r", name)
        return None
