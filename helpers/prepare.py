"""Prepare every dataset the notebooks need: ``python -m helpers.prepare`` (``make data``).
Prints each source; exits non-zero with the fix when one is missing. Offline on Debian/Ubuntu;
elsewhere Fashion-MNIST is downloaded and the doggy door uses Oxford-IIIT Pet (or your photos)."""
from __future__ import annotations

import shutil
import sys

from . import assessment_data, config, data, door_data, files, photos


def is_debian() -> bool:
    """Return True where the Debian data packages can exist (``apt-get`` and ``dpkg-query`` on PATH)."""
    return shutil.which("apt-get") is not None and shutil.which("dpkg-query") is not None


def _prepare_doggy_door(online: bool) -> tuple[None, str]:
    """Build the doggy-door photos (05a) and the presidential doggy door's folders (05b)."""
    sample = photos.sample_photos()
    door = door_data.build_door_data(online=online)
    counts = door.counts()
    images = sum(sum(c.values()) for c in counts.values())
    return None, (f"{door.source} ({images} images in {door.root}; "
                  f"{len(sample)} photos for notebook 05a)")


def _prepare_assessment() -> tuple[None, str]:
    """Build the assessment's photos (notebook 08): train and valid, and the held-out set beside them."""
    built = assessment_data.build_assessment_data()
    images = sum(sum(c.values()) for c in built.counts().values())
    return None, f"Tux Paint stamps ({images} images in {built.root}; held out in {built.heldout_root})"


def platform_hint(name: str) -> str:
    """Return what a machine without the Debian packages needs for dataset ``name`` (empty on Debian)."""
    if is_debian():
        return ""
    if name == "Assessment photos":
        return ("This is not a Debian/Ubuntu system (no apt-get): notebook 08's photos come only from the Debian "
                "package tuxpaint-stamps-default, so run notebook 08 on Debian/Ubuntu (a container will do).")
    if name == "Fashion-MNIST":
        return ("This is not a Debian/Ubuntu system (no apt-get), so the Debian package is not an option here: "
                "connect to the internet and run `make data` again (torchvision downloads about 30 MB into "
                f"{config.data_dir() / 'FashionMNIST'}).")
    return ("This is not a Debian/Ubuntu system (no apt-get), so the offline photos are not an option here: "
            "connect to the internet and run `make data` again (Oxford-IIIT Pet, about 800 MB), or put your own "
            f"photos in {config.data_dir() / 'presidential_doggy_door'}/{{train,valid}}/{{bo,not_bo}}/.")


def main() -> int:
    """Prepare each registered dataset in turn; return a process exit code (``make data``)."""
    debian = is_debian()
    steps = [("Fashion-MNIST", data.prepare_fashion_mnist),
             ("Presidential doggy door", lambda: _prepare_doggy_door(online=not debian)),
             ("Assessment photos", _prepare_assessment)]
    failed = False
    for name, prepare in steps:
        try:
            _, source = prepare()
        except (data.DataNotFound, files.ChecksumMismatch, door_data.DoorDataError,
                assessment_data.AssessmentDataError) as exc:
            hint = platform_hint(name)
            print(f"{name}: NOT READY\n{exc}" + (f"\n{hint}" if hint else ""), file=sys.stderr)
            failed = True
            continue
        except OSError as exc:  # a read-only or full data folder: one line with the folder and the fix, no traceback
            if data.folder_error(exc) is None:
                raise
            print(f"{name}: NOT READY\n{data.folder_error(exc)}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: ready, from {source}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
