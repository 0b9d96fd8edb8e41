"""The package's one file lock (run folders, embedding stores): a second holder waits and says so."""

import logging
import threading
import time

from flair_munch.file_locks import held_lock, try_lock
from flair_munch.training.run_directory import RunDirectory


def test_a_second_holder_waits_for_the_first_and_is_told(tmp_path):
    lock_file = tmp_path / "folder" / ".lock"
    events = []
    with held_lock(lock_file):
        waiter = threading.Thread(target=_take, args=(lock_file, events))
        waiter.start()
        deadline = time.time() + 5
        while not events and time.time() < deadline:
            time.sleep(0.01)
        waiter.join(0.2)
        assert events == ["waiting"]  # it did not get the lock while the first holder had it
        events.append("released")
    waiter.join(5)
    assert events == ["waiting", "released", "held"]
    with open(lock_file) as handle:
        assert try_lock(handle)  # the waiter let go when its body ended


def test_a_run_folder_being_trained_elsewhere_is_waited_for(tmp_path, caplog):
    run = RunDirectory(tmp_path / "run", "run-id")
    done = []
    with caplog.at_level(logging.INFO, logger="flair_munch"), run.lock():
        waiter = threading.Thread(target=lambda: _hold(run, done))
        waiter.start()
        waiter.join(0.3)
        assert not done
    waiter.join(5)
    assert done == [True]
    assert f"{run.path} is being trained by another process; waiting for it" in caplog.messages


def _take(lock_file, events):
    with held_lock(lock_file, on_wait=lambda: events.append("waiting")):
        events.append("held")


def _hold(run, done):
    with run.lock():
        done.append(True)
