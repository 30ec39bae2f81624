"""The hub's login: one password per user, from the roster the classroom wrote (hub/users.json, root 600).

JupyterHub's own SharedPasswordAuthenticator (6.1.1) lets anyone who knows the class password log in
as ANY other student ("All users are able to login as all other (non-admin) users with the same
password", its docstring), so a student could open a classmate's notebooks and feedback. This one
checks each user's own password against a PBKDF2 hash. To use the school's login instead, set
`c.JupyterHub.authenticator_class` in hub/jupyterhub_config.py (README, Teaching a class).
"""
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
