"""helpers.config: mode, fast_or_full, seeding, data folder."""
import random

import numpy as np
import pytest
import torch

from helpers import config


@pytest.mark.parametrize("value, expected", [("fast", "fast"), ("full", "full"), (" FULL ", "full")])
def test_mode_reads_course_mode(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_MODE", value)
    assert config.mode() == expected


def test_mode_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.mode() == "full"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.mode() == "fast"


def test_mode_rejects_other_values(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "turbo")
    with pytest.raises(config.ConfigError, match="turbo.*fast.*full"):
        config.mode()


def test_fast_or_full_follows_mode(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    assert config.fast_or_full(fast=1, full=10) == 1
    monkeypatch.setenv("COURSE_MODE", "full")
    assert config.fast_or_full(fast=1, full=10) == 10


def test_seed_everything_repeats_every_generator():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    assert config.seed_everything(123) == 123
    first = draw()
    config.seed_everything(123)
    assert draw() == first
    config.seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(config.ConfigError):
        config.seed_everything(bad)


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA", raising=False)
    assert config.data_dir() == config.REPO_ROOT / "data"
    target = tmp_path / "elsewhere" / "data"
    monkeypatch.setenv("COURSE_DATA", str(target))
    assert config.data_dir() == target and target.is_dir()


def test_data_dir_refuses_a_file(monkeypatch, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("COURSE_DATA", str(f))
    with pytest.raises(config.ConfigError, match="file, not a folder"):
        config.data_dir()


def test_relative_course_data_resolves_against_the_repository_root(monkeypatch, tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "notebooks_cwd"
    elsewhere.mkdir()
    monkeypatch.setattr(config, "REPO_ROOT", repo)
    monkeypatch.setenv("COURSE_DATA", "my_data")
    monkeypatch.chdir(elsewhere)  # a notebook's kernel runs in notebooks/, `make data` in the root
    assert config.data_dir() == repo / "my_data" and (repo / "my_data").is_dir()
    assert not (elsewhere / "my_data").exists()


def test_course_data_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA", "~/fdl-data")
    assert config.data_dir() == tmp_path / "fdl-data"


@pytest.mark.parametrize("value, expected", [("Fast", "fast"), (" FAST ", "fast"), ("Full", "full"), ("", None)])
def test_normalise_mode_is_the_one_spelling_rule(value, expected):
    assert config.normalise_mode(value) == expected


@pytest.mark.parametrize("value, expected", [("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:1", "cuda:1"),
                                             ("mps", "mps"), ("", None)])
def test_device_setting_accepts_the_course_kinds(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_DEVICE", value)
    assert config.device_setting() == expected


@pytest.mark.parametrize("value", ["xpu", "hpu", "meta", "cuda:", "cuda:x", "toaster", "cpu:0"])
def test_device_setting_refuses_other_kinds_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(config.ConfigError, match=rf"COURSE_DEVICE={value!r}.*cpu, cuda, cuda:N.*mps"):
        config.device_setting()
