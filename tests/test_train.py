"""helpers.train: batches, fit and evaluate."""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers import train


def blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) + 3.0 * y[:, None].float()
    return TensorDataset(x, y)


def test_batches_cover_every_item_once():
    ds = blobs(10)
    seen = torch.cat([x for x, _ in train.batches(ds, 4, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert [len(x) for x, _ in train.batches(ds, 4)] == [4, 4, 2]
    assert sorted(seen[:, 0].tolist()) == sorted(ds.tensors[0][:, 0].tolist())


def test_batches_accepts_loaders_and_rejects_zero():
    ds = blobs(10)
    assert sum(len(y) for _, y in train.batches(DataLoader(ds, batch_size=3))) == 10
    with pytest.raises(ValueError):
        list(train.batches(ds, 0))


def test_fit_learns_and_reports_history():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    history = train.fit(model, blobs(), blobs(seed=1), epochs=5, batch_size=16, progress=False,
                        optimizer=torch.optim.Adam(model.parameters(), lr=0.05))
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["valid_accuracy"] > 0.9
    assert all(row["seconds"] > 0 for row in history)


def test_fit_binary_with_one_logit_and_augment():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    calls = []

    def augment(x):
        calls.append(len(x))
        return x

    history = train.fit(model, blobs(), blobs(seed=1), epochs=3, loss_fn=nn.BCEWithLogitsLoss(),
                        optimizer=torch.optim.Adam(model.parameters(), lr=0.05), augment=augment,
                        binary=True, progress=False)
    assert sum(calls) == 3 * 200
    assert history[-1]["valid_accuracy"] > 0.9


def test_one_logit_without_binary_says_what_to_pass():
    with pytest.raises(ValueError, match="one output per item.*pass binary=True"):
        train.fit(nn.Linear(2, 1), blobs(), epochs=1, loss_fn=nn.BCEWithLogitsLoss(), progress=False)
    with pytest.raises(ValueError, match="pass binary=True"):
        train.evaluate(nn.Linear(2, 1), blobs(), loss_fn=nn.BCEWithLogitsLoss())


def test_evaluate_counts_and_restores_mode():
    model = nn.Sequential(nn.Linear(2, 2))
    model.train()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    result = train.evaluate(model, TensorDataset(x, torch.tensor([0, 0])))
    # cross-entropy of logits (1, 0) and (0, 1), both labelled 0
    expected_loss = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    assert result == {"loss": pytest.approx(expected_loss), "accuracy": 0.5, "n": 2}
    assert model.training


def test_fit_refuses_empty_data():
    with pytest.raises(ValueError, match="empty"):
        train.fit(nn.Linear(2, 2), TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)),
                  progress=False)
