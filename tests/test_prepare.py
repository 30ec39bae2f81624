"""helpers.prepare (make data): which source it asks for on Debian and elsewhere, and what it says when data is missing.
"""
import pytest

from helpers import assessment_data, data, door_data, prepare


@pytest.fixture
def calls(monkeypatch):
    seen = {}

    def door(*, online):
        seen["online"] = online
        raise door_data.DoorDataError("no dog photos")

    def fashion():
        raise data.DataNotFound("Fashion-MNIST was not found.")

    def assessment():
        raise assessment_data.AssessmentDataError("no Tux Paint stamps")

    monkeypatch.setattr(prepare, "_prepare_doggy_door", door)
    monkeypatch.setattr(prepare, "_prepare_assessment", assessment)
    monkeypatch.setattr(data, "prepare_fashion_mnist", fashion)
    return seen


def test_elsewhere_it_goes_online_and_says_what_this_platform_needs(monkeypatch, capsys, calls):
    monkeypatch.setattr(prepare.shutil, "which", lambda name: None)  # macOS, Fedora: no apt-get
    assert prepare.main() == 1
    err = capsys.readouterr().err
    assert calls["online"] is True  # Oxford-IIIT Pet is the doggy-door source there
    assert err.count("not a Debian/Ubuntu system (no apt-get)") == 3
    assert "torchvision downloads" in err and "Oxford-IIIT Pet" in err and "no dog photos" in err
    assert "Assessment photos: NOT READY" in err and "tuxpaint-stamps-default" in err


def test_on_debian_it_stays_offline_and_adds_no_platform_hint(monkeypatch, capsys, calls):
    monkeypatch.setattr(prepare.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert prepare.main() == 1
    err = capsys.readouterr().err
    assert calls["online"] is False
    assert "Fashion-MNIST: NOT READY" in err and "not a Debian" not in err
    assert "Assessment photos: NOT READY\nno Tux Paint stamps" in err
