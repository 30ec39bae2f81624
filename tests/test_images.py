"""helpers.images: scan_images reports every bad file, load_rgb turns every decodable image into RGB."""
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.images import MIN_SIDE, ImageProblem, load_rgb, scan_images, to_rgb


def photo(size=(64, 48), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def tiff_2x16bit(path: Path, w: int = 40, h: int = 40) -> None:
    """A valid TIFF with 2 samples of 16 bits per pixel: a real image file in a layout Pillow cannot read."""
    data = bytes(range(256)) * (w * h * 4 // 256 + 1)
    data = data[: w * h * 4]
    entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 2, 0), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 0), (277, 3, 1, 2), (278, 3, 1, h), (279, 4, 1, len(data)), (338, 3, 1, 2)]
    ifd_size = 2 + 12 * len(entries) + 4
    bps_offset = 8 + ifd_size
    data_offset = bps_offset + 4
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        value = bps_offset if tag == 258 else data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if typ == 3 and count == 1 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0) + struct.pack("<HH", 16, 16) + data
    path.write_bytes(out)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    good = photo()
    good.save(tmp_path / "rgb.jpg")
    good.convert("L").save(tmp_path / "gray.png")
    good.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "palette.gif")
    good.convert("CMYK").save(tmp_path / "cmyk.jpg")
    rgba = good.convert("RGBA")
    rgba.putalpha(0)
    rgba.save(tmp_path / "transparent.png")
    Image.fromarray(np.full((40, 40), 65535, dtype=np.uint16)).save(tmp_path / "white16.png")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    good.save(tmp_path / "sub" / "deeper" / "nested.webp")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture at all")
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "rgb.jpg").read_bytes()[:400])
    photo((MIN_SIDE - 1, 100)).save(tmp_path / "tiny.png")
    tiff_2x16bit(tmp_path / "odd_layout.tif")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".hidden.jpg").write_bytes((tmp_path / "rgb.jpg").read_bytes())
    (tmp_path / ".ipynb_checkpoints").mkdir()
    good.save(tmp_path / ".ipynb_checkpoints" / "copy.jpg")
    return tmp_path


def test_scan_images_sorts_every_file_into_good_or_problem(messy):
    good, problems = scan_images(messy)
    names = {p.name for p in good}
    assert names == {"rgb.jpg", "gray.png", "palette.gif", "cmyk.jpg", "transparent.png", "white16.png", "nested.webp"}
    assert good == sorted(good)
    reasons = {p.name: why for p, why in problems}
    assert reasons["empty.jpg"].startswith("empty file")
    assert reasons["text.jpg"].startswith("not an image")
    assert reasons["truncated.jpg"].startswith("truncated or corrupt")
    assert reasons["tiny.png"].startswith("too small") and f"{MIN_SIDE - 1}×100" in reasons["tiny.png"]
    assert reasons["odd_layout.tif"].startswith("unreadable mode")
    assert reasons["notes.txt"].startswith("skipped") and ".txt" in reasons["notes.txt"]
    assert reasons[".hidden.jpg"] == "skipped: hidden file"
    assert reasons[".ipynb_checkpoints"].startswith("skipped: hidden folder (1 files")
    # nothing silently dropped: every file or hidden folder is either good or named as a problem
    everything = {p for p in messy.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    assert everything == set(good) | {p for p, _ in problems if p.is_file()}


def test_scan_images_missing_folder_raises_with_a_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        scan_images(tmp_path / "nope")


def test_scan_images_min_side_is_a_knob(messy):
    good, _ = scan_images(messy, min_side=45)
    assert {p.name for p in good} == {"rgb.jpg", "gray.png", "palette.gif", "cmyk.jpg", "transparent.png",
                                      "nested.webp"}


@pytest.mark.parametrize("name", ["rgb.jpg", "gray.png", "palette.gif", "cmyk.jpg", "transparent.png", "white16.png"])
def test_load_rgb_returns_8bit_rgb(messy, name):
    image = load_rgb(messy / name)
    assert image.mode == "RGB"
    assert image.size == Image.open(messy / name).size


def test_transparency_is_composited_on_white(messy):
    assert np.asarray(load_rgb(messy / "transparent.png")).min() == 255  # fully transparent -> white page


def test_sixteen_bit_is_scaled_not_clipped(messy):
    assert Image.open(messy / "white16.png").mode.startswith("I")
    assert np.asarray(load_rgb(messy / "white16.png")).min() == 255  # 65535 -> 255, not 65535 mod 256
    half = Image.fromarray(np.full((40, 40), 32768, dtype=np.uint16))
    assert abs(int(np.asarray(to_rgb(half))[0, 0, 0]) - 128) <= 1


def test_grayscale_keeps_its_values(messy):
    gray = np.asarray(Image.open(messy / "gray.png"))
    rgb = np.asarray(load_rgb(messy / "gray.png"))
    assert all(np.array_equal(rgb[..., c], gray) for c in range(3))


@pytest.mark.parametrize("name, reason", [("empty.jpg", "empty file"), ("text.jpg", "not an image"),
                                          ("truncated.jpg", "truncated"), ("tiny.png", "too small"),
                                          ("odd_layout.tif", "unreadable mode")])
def test_load_rgb_raises_image_problem_naming_file_and_fix(messy, name, reason):
    with pytest.raises(ImageProblem) as info:
        load_rgb(messy / name)
    assert info.value.path == messy / name
    assert reason in str(info.value) and name in str(info.value) and "Fix:" in str(info.value)


def test_load_rgb_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rgb(tmp_path / "ghost.jpg")


def test_load_rgb_applies_exif_orientation(tmp_path):
    wide = photo((80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    wide.save(tmp_path / "phone.jpg", exif=exif)
    assert load_rgb(tmp_path / "phone.jpg").size == (40, 80)


def test_to_rgb_names_an_unconvertible_mode():
    with pytest.raises(ValueError, match="unreadable mode 'La'"):
        to_rgb(Image.new("La", (4, 4)))
