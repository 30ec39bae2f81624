"""helpers.elastic (notebook 06): two torchrun agents on this machine as two nodes, and losing one.

The command tests are instant. The others run real elastic jobs of ``train_ddp.py`` (two
agents, ``--nnodes=1:2``, one worker each, gloo), kill part of one node once both train
together, and check what notebook 06 teaches:

- the whole of node B (agent and worker) lost: node A's worker fails, restarts,
  re-rendezvouses alone and finishes from the snapshot, on one process;
- the node that hosts the c10d store lost: the job ends (``RendezvousConnectionError``);
- only B's agent lost: its worker lives on, orphaned, and trains to the end with A's;
- with the store outside the job (etcd, ``--rdzv-backend=etcd-v2``) losing node A, the old
  store host, is survived too (skipped where etcd is not installed).

Each job costs 15-30 s on 2 cores, nearly all of it Python and torch start-up.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import psutil
import pytest

import helpers
from helpers import elastic
from helpers.launch import LaunchTimeout

SCRIPT = Path(__file__).resolve().parent.parent / "notebooks" / "scripts" / "train_ddp.py"
EPOCHS = 12
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}
BOTH_TRAIN = r"epoch 2/\d+: mean training loss"  # printed by rank 0 once both nodes train together


def job_args(out: Path) -> list:
    return ["--epochs", EPOCHS, "--train-size", 2048, "--test-size", 200, "--hidden", 32,
            "--snapshot", out / "snapshot.pt", "--result", out / "result.json", "--data-dir", helpers.data_dir()]


def running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def first_world_sizes(job: elastic.ElasticJob) -> set[int]:
    return {int(m.group(1)) for n in job.nodes.values() for m in re.finditer(r"\[rank \d+/(\d+) attempt 0\]", n.output)}


# --- commands ---------------------------------------------------------------------------

def test_agent_command_names_the_rendezvous():
    cmd = elastic.agent_command("train.py", ["--epochs", 3], endpoint="127.0.0.1:29400", run_id="job-1",
                                max_restarts=2, is_host=True, rdzv_conf={"last_call_timeout": 3})
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    for flag in ("--nnodes=1:2", "--nproc-per-node=1", "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:29400",
                 "--rdzv-id=job-1", "--rdzv-conf=last_call_timeout=3,is_host=1", "--max-restarts=2"):
        assert flag in cmd
    assert cmd[-3:] == ["train.py", "--epochs", "3"]
    default = elastic.agent_command("t.py", endpoint="h:1", run_id="j")
    assert "--rdzv-conf=" + ",".join(f"{k}={v}" for k, v in elastic.RDZV_CONF.items()) in default


@pytest.mark.parametrize("kwargs, message", [
    ({"nnodes": "1-2"}, "MIN:MAX"), ({"nproc_per_node": 0}, "at least 1"), ({"max_restarts": -1}, ">= 0"),
    ({"backend": "etcd-v2", "is_host": True}, "c10d backend only")])
def test_agent_command_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        elastic.agent_command("t.py", endpoint="h:1", run_id="j", **kwargs)


def test_an_etcd_job_needs_an_endpoint():
    with pytest.raises(ValueError, match="needs endpoint="):
        elastic.ElasticJob(SCRIPT, backend="etcd-v2")


def test_a_job_past_its_timeout_is_stopped(tmp_path):
    waiter = tmp_path / "wait.py"
    waiter.write_text("import time\ntime.sleep(600)\n")
    job = elastic.ElasticJob(waiter, nodes=["A"], timeout=2, echo=False, env=CPU_ONLY).start()
    with pytest.raises(LaunchTimeout, match="ran past its timeout of 2 s"):
        job.wait()
    assert job.nodes["A"].returncode is not None, "the agent should have been stopped"


# --- real jobs --------------------------------------------------------------------------

def test_losing_node_b_the_job_goes_on_alone_from_the_snapshot(tmp_path):
    with elastic.ElasticJob(SCRIPT, job_args(tmp_path), timeout=240, echo=False, env=CPU_ONLY) as job:
        job.wait_for(BOTH_TRAIN)
        b_workers = job.workers("B")
        assert len(b_workers) == 1, f"node B should run one worker, found {b_workers}"
        job.kill("B")
        codes = job.wait()
    assert first_world_sizes(job) == {2}, "both nodes should have trained together first"
    assert codes == {"A": 0, "B": -9}, job.nodes["A"].output[-3000:]
    a = job.nodes["A"].output
    assert re.search(r"\[rank 0/1 attempt 1\] .*starting at epoch \d+ \(from the snapshot\)", a), a[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["world_size"], result["attempt"]) == (1, 1)
    assert 1 <= result["start_epoch"] < EPOCHS
    assert len(result["history"]) == EPOCHS, "an epoch was lost or trained twice"
    assert result["final_accuracy"] > 0.5


def test_when_a_worker_dies_both_agents_restart_and_meet_again(tmp_path):
    """Only B's worker is lost, in a job of exactly two nodes: B's agent restarts it, and A's agent restarts
    its own (A's worker fails on the broken all-reduce, or A sees B waiting in the rendezvous first: then A
    counts no restart, and the two agents' TORCHELASTIC_RESTART_COUNT differ). The new workers must meet in
    one store all the same (``ddp_faults.store_for_this_attempt``) and go on from the snapshot, two ranks."""
    with elastic.ElasticJob(SCRIPT, job_args(tmp_path), nnodes="2:2", timeout=240, echo=False,
                            env=CPU_ONLY) as job:
        job.wait_for(BOTH_TRAIN)
        job.kill("B", agent=False)
        codes = job.wait()
    assert codes == {"A": 0, "B": 0}, job.nodes["A"].output[-3000:]
    for name in ("A", "B"):
        assert re.search(r"\[rank \d/2 attempt \d\] .*starting at epoch \d+ \(from the snapshot\)",
                         job.nodes[name].output), f"node {name}'s agent should have restarted its worker"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["world_size"] == 2 and result["params_identical"]
    assert 1 <= result["start_epoch"] < EPOCHS and len(result["history"]) == EPOCHS


def test_losing_the_store_host_ends_the_job(tmp_path):
    with elastic.ElasticJob(SCRIPT, job_args(tmp_path), timeout=240, echo=False, env=CPU_ONLY) as job:
        job.wait_for(BOTH_TRAIN)
        job.kill("A")  # node A runs the c10d store (is_host=1)
        codes = job.wait()
    assert first_world_sizes(job) == {2}
    assert codes["A"] == -9 and codes["B"] != 0
    assert "RendezvousConnectionError" in job.nodes["B"].output
    assert not (tmp_path / "result.json").exists(), "no worker should have finished"


def test_killing_only_an_agent_leaves_its_worker_orphaned(tmp_path):
    with elastic.ElasticJob(SCRIPT, job_args(tmp_path), timeout=240, echo=False, env=CPU_ONLY) as job:
        job.wait_for(BOTH_TRAIN)
        agent = job.nodes["B"].process.pid
        job.kill("B", workers=False)
        orphans = job.workers("B")
        assert len(orphans) == 1, "B's worker should outlive its agent"
        assert orphans[0].ppid() != agent
        job.wait_for(r"final test loss .* on all 2 ranks: True")  # the orphan trained on to the end
        assert job.nodes["A"].returncode is None, "A's agent should wait for B's at the exit barrier"
        left = [*job.workers("A"), psutil.Process(job.nodes["A"].process.pid), *orphans]
    # leaving the block stopped A's agent (still at its barrier) and every worker still running
    assert not [p for p in left if running(p)]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["world_size"], result["attempt"], result["start_epoch"]) == (2, 0, 0)


@pytest.fixture
def etcd_endpoint(tmp_path):
    try:
        with elastic.etcd_server(tmp_path / "etcd") as endpoint:
            yield endpoint
    except elastic.EtcdUnavailable as exc:
        pytest.skip(str(exc))


def test_with_etcd_outside_the_job_losing_either_node_is_survived(tmp_path, etcd_endpoint):
    with elastic.ElasticJob(SCRIPT, job_args(tmp_path), backend="etcd-v2", endpoint=etcd_endpoint, timeout=240,
                            echo=False, env=CPU_ONLY) as job:
        job.wait_for(BOTH_TRAIN)
        job.kill("A")  # the node that hosted the store in the c10d tests
        codes = job.wait()
    assert codes == {"A": -9, "B": 0}, job.nodes["B"].output[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["world_size"], result["attempt"]) == (1, 1)
    assert len(result["history"]) == EPOCHS
