"""Oxford-IIIT Pet as a source of the doggy door's folders (notebook 05b, through ``door_data``):
downloaded by torchvision (md5-checked), its own trainval/test split kept."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

from .files import socket_timeout

OXFORD_PET_BO_BREED = "newfoundland"  # black, big and curly-coated: the nearest of the 37 breeds to Bo


def build_oxford_pet(root: Path, pet_root: Path, *, download: bool, timeout: float,
                      per_class: tuple[int, int] = (100, 30)) -> dict:
    """Return the manifest after copying Oxford-IIIT Pet photos into ``root``'s folders (notebook 05b, through
    ``door_data.build_door_data``): the Newfoundland breed plays Bo, a sample of the other breeds is not Bo."""
    from torchvision.datasets import OxfordIIITPet

    with socket_timeout(timeout):
        OxfordIIITPet(str(pet_root), split="trainval", download=download)  # md5-checked by torchvision
    base = pet_root / "oxford-iiit-pet"
    files, origins = {}, {}
    rng = random.Random(0)
    for split, listing, n in (("train", "trainval.txt", per_class[0]), ("valid", "test.txt", per_class[1])):
        lines = (base / "annotations" / listing).read_text().split("\n")
        ids = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
        bo = [i for i in ids if i.rsplit("_", 1)[0].lower() == OXFORD_PET_BO_BREED][:n]
        others = [i for i in ids if i.rsplit("_", 1)[0].lower() != OXFORD_PET_BO_BREED]
        not_bo = sorted(rng.sample(others, min(n, len(others))))
        for label, chosen in (("bo", bo), ("not_bo", not_bo)):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for image_id in chosen:
                rel = f"{split}/{label}/{image_id}.jpg"
                shutil.copyfile(base / "images" / f"{image_id}.jpg", root / rel)
                files[rel] = image_id
                origins[image_id] = f"Oxford-IIIT Pet {image_id}.jpg ({image_id.rsplit('_', 1)[0]})"
    story = ("Oxford-IIIT Pet (Parkhi et al. 2012, CC BY-SA 4.0): the Newfoundland breed plays Bo "
             f"(a big black dog, the nearest of 37 breeds to Bo, a Portuguese water dog); {per_class[0]} "
             "training and up to {0} validation photos per class; not Bo is a random sample of the other "
             "breeds, dogs and cats. Every photo is its own source; the dataset's own trainval/test split "
             "keeps them apart.").replace("{0}", str(per_class[1]))
    return {"source": "oxford-iiit-pet", "story": story, "files": files, "origins": origins}
