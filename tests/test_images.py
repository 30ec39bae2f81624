"""helpers.images: scan_images reports every bad file, load_rgb turns every decodable image into RGB."""
import builtins
import errno
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.images import MAX_PIXELS, MAX_SIDE, MIN_SIDE, ImageProblem, load_rgb, scan_images, to_rgb


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
    assert reasons["odd_layout.tif"].startswith("unsupported TIFF layout")
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
                                          ("odd_layout.tif", "unsupported TIFF layout")])
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


# --- issue 13: every message right, phone photos just work -------------------------------------

def png_bytes(image: Image.Image) -> bytearray:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return bytearray(buf.getvalue())


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose (valid, checksummed) header claims ``width``×``height`` pixels: a decompression bomb's shape."""
    data = png_bytes(Image.new("L", (8, 8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    return bytes(data[:16]) + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + bytes(data[33:])


def test_png_with_a_bad_header_checksum_is_called_corrupt_not_an_unreadable_mode(tmp_path):
    data = png_bytes(photo())
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    (tmp_path / "crc.png").write_bytes(data)
    with pytest.raises(ImageProblem) as info:
        load_rgb(tmp_path / "crc.png")
    assert info.value.reason.startswith("corrupt PNG file") and "checksum" in info.value.reason
    assert "mode" not in info.value.reason and "8-bit RGB" not in info.value.reason


def test_png_with_a_mangled_chunk_name_is_called_corrupt(tmp_path):
    data = png_bytes(photo())
    data[13] = 0x00  # "IHDR" -> "I\0DR"
    (tmp_path / "chunk.png").write_bytes(data)
    _, problems = scan_images(tmp_path)
    assert problems[0][1].startswith("corrupt PNG file"), problems


def test_an_unsupported_layout_is_not_called_corrupt(messy):
    _, problems = scan_images(messy)
    reason = dict((p.name, why) for p, why in problems)["odd_layout.tif"]
    assert reason.startswith("unsupported TIFF layout") and "8-bit RGB" in reason


def test_permission_denied_is_not_called_corrupt(tmp_path, monkeypatch):
    photo().save(tmp_path / "locked.jpg")
    locked = str(tmp_path / "locked.jpg")
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):  # chmod 000 does not stop root, so refuse the way the kernel would
        if os.fspath(file) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    with pytest.raises(ImageProblem) as info:
        load_rgb(locked)
    assert info.value.reason.startswith("permission denied") and "corrupt" not in str(info.value)
    assert "chmod" in str(info.value)
    _, problems = scan_images(tmp_path)
    assert problems[0][1].startswith("permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_for_real(tmp_path):
    photo().save(tmp_path / "locked.jpg")
    (tmp_path / "locked.jpg").chmod(0)
    _, problems = scan_images(tmp_path)
    assert problems[0][1].startswith("permission denied")


def heic_bytes(image: Image.Image) -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(image).save(buf, quality=90)
    return buf.getvalue()


def smooth(size=(80, 60)) -> Image.Image:
    """A smooth colour picture (lossy HEIC keeps it close; noise it would not)."""
    y, x = np.mgrid[0:size[1], 0:size[0]]
    return Image.fromarray(np.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], -1).astype(np.uint8))


def test_heic_photos_load_like_any_other(tmp_path):
    (tmp_path / "IMG_0001.HEIC").write_bytes(heic_bytes(smooth()))
    (tmp_path / "renamed.jpg").write_bytes(heic_bytes(photo((80, 60), seed=1)))  # content decides, not the name
    good, problems = scan_images(tmp_path)
    assert problems == [] and {p.name for p in good} == {"IMG_0001.HEIC", "renamed.jpg"}
    image = load_rgb(tmp_path / "IMG_0001.HEIC")
    assert image.mode == "RGB" and image.size == (80, 60)
    assert np.abs(np.asarray(image, dtype=int) - np.asarray(smooth(), dtype=int)).mean() < 8


def test_heic_without_pillow_heif_says_how_to_convert(tmp_path, monkeypatch):
    (tmp_path / "IMG_0002.heic").write_bytes(heic_bytes(photo()))
    monkeypatch.setattr(Image, "ID", [f for f in Image.ID if f != "HEIF"])  # as if pillow-heif were not installed
    monkeypatch.delitem(Image.OPEN, "HEIF")
    with pytest.raises(ImageProblem) as info:
        load_rgb(tmp_path / "IMG_0002.heic")
    reason = info.value.reason
    assert reason.startswith("HEIC photo") and "pip install pillow-heif==" in reason and "JPEG" in reason
    assert "text" not in reason


def test_corrupt_heic_is_called_corrupt(tmp_path):
    data = heic_bytes(photo())
    (tmp_path / "cut.heic").write_bytes(data[: len(data) // 2])
    (tmp_path / "no_meta.heic").write_bytes(data[:32] + bytes(500))
    _, problems = scan_images(tmp_path)
    reasons = dict((p.name, why) for p, why in problems)
    assert reasons["cut.heic"].startswith("truncated or corrupt"), reasons
    assert reasons["no_meta.heic"].startswith("corrupt HEIC file"), reasons


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory) -> Path:
    """A 108-megapixel (12000×9000) JPEG like a phone's top resolution; one grey, so it is cheap to make."""
    path = tmp_path_factory.mktemp("phone") / "108mp.jpg"
    Image.new("L", (12000, 9000), 120).save(path, quality=50)
    return path


def test_a_108_megapixel_phone_photo_loads_shrunk(phone_photo):
    image = load_rgb(phone_photo)
    assert image.mode == "RGB" and max(image.size) == MAX_SIDE and image.size == (MAX_SIDE, MAX_SIDE * 3 // 4)
    assert abs(int(np.asarray(image).mean()) - 120) <= 2
    good, problems = scan_images(phone_photo.parent)
    assert good == [phone_photo] and problems == []


def test_max_side_is_a_knob_and_never_enlarges(tmp_path):
    photo((300, 200)).save(tmp_path / "wide.png")
    assert load_rgb(tmp_path / "wide.png", max_side=100).size == (100, 67)
    assert load_rgb(tmp_path / "wide.png", max_side=1000).size == (300, 200)
    assert load_rgb(tmp_path / "wide.png", max_side=None).size == (300, 200)


def test_a_real_decompression_bomb_is_refused_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_claiming(30_000, 30_000))
    with pytest.raises(ImageProblem) as info:
        load_rgb(tmp_path / "bomb.png")
    reason = info.value.reason
    assert reason.startswith("too large") and "30000×30000" in reason and "900 megapixels" in reason
    assert f"{MAX_PIXELS // 1_000_000} megapixels" in reason


def test_a_dark_16_bit_image_stays_dark(tmp_path):
    dark = np.full((40, 40), 200, dtype=np.uint16)  # 200 of 65535: nearly black
    dark[:20] = 100
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    assert Image.open(tmp_path / "dark16.png").mode.startswith("I")
    rgb = np.asarray(load_rgb(tmp_path / "dark16.png"))
    assert rgb[30, 0, 0] == round(200 / 65535 * 255) and rgb[0, 0, 0] == round(100 / 65535 * 255)


def test_symlinked_sub_folders_are_followed_once_and_loops_do_not_hang(tmp_path):
    root, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    (root / "real").mkdir(parents=True)
    (elsewhere / "inner").mkdir(parents=True)
    photo().save(root / "real" / "a.jpg")
    photo(seed=1).save(elsewhere / "b.jpg")
    photo(seed=2).save(elsewhere / "inner" / "c.jpg")
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "linked_again").symlink_to(elsewhere, target_is_directory=True)  # the same folder twice
    (elsewhere / "inner" / "loop").symlink_to(elsewhere, target_is_directory=True)  # a cycle
    (root / "real" / "up").symlink_to(root, target_is_directory=True)  # a cycle through the root
    good, problems = scan_images(root)
    assert [p.relative_to(root).as_posix() for p in good] == ["linked/b.jpg", "linked/inner/c.jpg", "real/a.jpg"]
    reasons = {p.relative_to(root).as_posix(): why for p, why in problems}
    assert set(reasons) == {"linked_again", "linked/inner/loop", "real/up"}
    again = "skipped: link to a folder already scanned (linked)"
    assert reasons["linked_again"] == reasons["linked/inner/loop"] == again
    assert reasons["real/up"] == "skipped: link to a folder already scanned (the scanned folder itself)"


def test_a_link_to_a_real_sub_folder_counts_once_under_its_own_name(tmp_path):
    (tmp_path / "z_real").mkdir()
    photo().save(tmp_path / "z_real" / "a.jpg")
    (tmp_path / "a_link").symlink_to(tmp_path / "z_real", target_is_directory=True)  # sorts first
    good, problems = scan_images(tmp_path)
    assert good == [tmp_path / "z_real" / "a.jpg"]
    assert problems == [(tmp_path / "a_link", "skipped: link to a folder already scanned (z_real)")]


def test_the_heic_install_hint_names_the_pinned_version():
    from helpers.images import HEIF_REQUIREMENT

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert f'"{HEIF_REQUIREMENT}"' in pyproject


def test_a_big_sideways_phone_photo_is_shrunk_and_turned_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    photo((400, 200)).save(tmp_path / "sideways.jpg", exif=exif)
    photo((400, 200)).save(tmp_path / "sideways.png", exif=exif)
    assert load_rgb(tmp_path / "sideways.jpg", max_side=100).size == (50, 100)
    assert load_rgb(tmp_path / "sideways.png", max_side=100).size == (50, 100)
