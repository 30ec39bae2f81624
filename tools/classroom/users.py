"""Unix accounts for the class, their passwords for the hub, and running a command as one of them.
Accounts have a locked Unix password (only the hub admits them) and a home of mode 700; hub passwords
are random, hashed for the hub, in clear for the teacher; only accounts this classroom made are removed."""
from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from .layout import Classroom, ClassroomError

ITERATIONS = 200_000


def hash_password(password: str, salt: str | None = None) -> str:
    """`pbkdf2_sha256$iterations$salt$hex` for a password."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS).hex()
    return f"pbkdf2_sha256${ITERATIONS}${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches a `hash_password` string (compared in constant time)."""
    try:
        _, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    mine = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return secrets.compare_digest(mine, digest)


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_user(room: Classroom, name: str, created: list[str]) -> None:
    """Create the Unix account `name` (home in the classroom, mode 700) unless it exists; record it in `created`."""
    home = room.home(name)
    if exists(name):
        if name not in created and Path(pwd.getpwnam(name).pw_dir) != home:
            raise ClassroomError(f"a Unix user {name!r} already exists with home {pwd.getpwnam(name).pw_dir}, "
                                 f"not {home}: choose another name (the classroom never takes over an account)")
    else:
        home.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(home.parent, 0o755)
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                        "--user-group", "--comment", "fdl-classroom", name], check=True, capture_output=True)
        created.append(name)
    home.mkdir(exist_ok=True)
    shutil.chown(home, name, name)
    os.chmod(home, 0o700)


def remove_user(room: Classroom, name: str) -> None:
    """Delete an account this classroom created, with its home and its group."""
    if exists(name):
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    shutil.rmtree(room.home(name), ignore_errors=True)


def write_passwords(room: Classroom, users: list[str]) -> dict[str, str]:
    """Give every user in `users` without one a random password; return the new ones (name -> password)."""
    store = room.hub / "users.json"
    hashes = json.loads(store.read_text()) if store.exists() else {}
    new = {name: secrets.token_urlsafe(9) for name in users if name not in hashes}
    hashes.update({name: hash_password(pw) for name, pw in new.items()})
    hashes = {name: h for name, h in hashes.items() if name in users}
    _write_private(store, json.dumps(hashes, indent=1))
    clear = room.hub / "passwords.txt"
    lines = [line for line in (clear.read_text().splitlines() if clear.exists() else [])
             if line.split(" ", 1)[0] in users]
    lines += [f"{name} {pw}" for name, pw in new.items()]
    _write_private(clear, "\n".join(lines) + "\n")
    return new


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    os.chmod(tmp, 0o600)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def as_user(name: str, cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `cmd` as the Unix user `name` (runuser, a login-free switch; root only), capturing text output."""
    return subprocess.run(["runuser", "-u", name, "--", *cmd], capture_output=True, text=True, **kwargs)


def chown_tree(path: Path, user: str, dir_mode: int, file_mode: int) -> None:
    """Give `path` and everything under it to `user`, with `dir_mode` on folders and `file_mode` on files."""
    for folder, _dirs, files in os.walk(path):
        shutil.chown(folder, user, user)
        os.chmod(folder, dir_mode)
        for f in files:
            target = os.path.join(folder, f)
            if not os.path.islink(target):
                shutil.chown(target, user, user)
                os.chmod(target, file_mode)
