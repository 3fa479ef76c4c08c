"""Fair share (issue 30 item 2): the queue is served round-robin across clients, a client address has its own
limit of active runs whatever sessions it opens, and ``X-Forwarded-For`` is believed only from a named proxy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.core.jobs import Job, QueueExecutor, fair_order
from engine.core.service import Busy, Service, client_address


class Slots(QueueExecutor):
    """The shared queue and dispatch of every executor, with slots that only note which run they were given."""

    def __init__(self, slots: int = 1):
        super().__init__(slots, 1000, 1000, 1)
        self._slots = [SimpleNamespace(job=None, ready=True, device="cpu") for _ in range(slots)]
        self.started: list[Job] = []

    def _start_run(self, slot, job: Job) -> str:
        self.started.append(job)
        return ""

    def _run_memory(self, slot) -> tuple[float, float]:
        return 0.0, 0.0

    def step(self) -> Job:
        """One slot's run ends and the next one starts; returns the run that started."""
        with self._lock:
            for slot in self._slots:
                if slot.job is not None:
                    self._end_job(slot, "done")
                    break
            self._dispatch()
        return self.started[-1]


def test_one_client_with_ten_waiting_does_not_hold_back_two_others():
    ex = Slots(slots=1)
    heavy = [ex.submit("fake", {}, owner=f"s{i}", client="10.0.0.66") for i in range(10)]  # a new session each
    other_b = ex.submit("fake", {}, owner="b", client="10.0.0.2")
    other_c = ex.submit("fake", {}, owner="c", client="10.0.0.3")
    assert ex.position(other_b.id) == 2 and ex.position(other_c.id) == 3  # not 11th and 12th
    order = [ex.step() for _ in range(12)]
    assert order[:3] == [heavy[0], other_b, other_c]  # both others within the first round
    assert order[3:] == heavy[1:]
    assert [j.id for j in ex.started] == [j.id for j in order]


def test_a_newcomer_goes_before_a_client_that_was_just_served():
    ex = Slots(slots=1)
    heavy = [ex.submit("fake", {}, client="10.0.0.66") for _ in range(5)]
    assert ex.step() is heavy[0] and ex.step() is heavy[1]  # the heavy client alone: it takes every turn
    late = ex.submit("fake", {}, owner="late", client="10.0.0.9")
    assert ex.position(late.id) == 1  # next, ahead of the heavy client's 3 still waiting
    assert ex.step() is late and ex.step() is heavy[2]


def test_runs_without_an_address_share_by_session_and_cancel_keeps_the_order():
    jobs = [Job(str(i), "fake", {}, owner=o) for i, o in enumerate("aaab")]
    assert [j.id for j in fair_order(jobs, {})] == ["0", "3", "1", "2"]
    assert [j.id for j in fair_order(jobs, {"a": 5, "b": 1})] == ["3", "0", "1", "2"]  # b was served longer ago
    ex = Slots(slots=1)
    first, second, other = (ex.submit("fake", {}, owner=o) for o in ("a", "a", "b"))
    ex.cancel(other.id)
    assert ex.position(second.id) == 2 and ex.busy() == (0, 2)
    assert ex.step() is first and ex.step() is second


class StubExecutor:
    """Just enough of the Executor protocol to test admission without processes."""

    slots = 2

    def __init__(self):
        self.jobs, self.listeners = [], []

    def submit(self, technique, config, owner="", job_id=None, client=""):
        job = Job(id=job_id or str(len(self.jobs)), technique=technique, config=config, owner=owner, client=client)
        self.jobs.append(job)
        return job

    def busy(self):
        active = [j for j in self.jobs if j.active]
        return min(len(active), self.slots), max(len(active) - self.slots, 0)

    def subscribe(self, listener):
        self.listeners.append(listener)

    def end(self, job):
        job.status, job.started, job.finished = "done", 100.0, 130.0
        for listener in self.listeners:
            listener("ended", job)


def test_one_address_is_limited_however_many_sessions_it_opens(monkeypatch):
    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)
    ex = StubExecutor()
    svc = Service(ex, None, per_session=2, per_client=3, max_queue=40)
    flood = [svc.submit("fake", {}, owner=f"script{i}", client="203.0.113.7") for i in range(3)]  # no cookie
    with pytest.raises(Busy) as refused:
        svc.submit("fake", {}, owner="script3", client="203.0.113.7")
    assert str(refused.value) == (
        "Your network address already has 3 runs training or waiting (the limit per address on this shared "
        "server, counting every tab and browser there). Wait for one to finish, then press Train again."
    )
    assert svc.submit("fake", {}, owner="visitor", client="198.51.100.4").client == "198.51.100.4"  # others go on
    assert svc.submit("fake", {}, owner="local").active  # no address known (a personal server): no such limit
    ex.end(flood[0])
    assert svc.submit("fake", {}, owner="script4", client="203.0.113.7").active  # one ended: room for one more
    assert len(svc.client_runs("203.0.113.7")) == 3


def test_forwarded_address_is_believed_only_from_the_named_proxy(monkeypatch):
    monkeypatch.delenv("FRONTIER_TRUSTED_PROXY", raising=False)
    assert client_address("198.51.100.4", "1.2.3.4") == "198.51.100.4"  # no proxy named: the header is ignored
    assert client_address(None, "1.2.3.4") == ""  # from this machine, no proxy named: unknown, no address limit
    monkeypatch.setenv("FRONTIER_TRUSTED_PROXY", "127.0.0.1, 10.1.0.0/16")
    assert client_address(None, "203.0.113.7") == "203.0.113.7"  # Streamlit says None for 127.0.0.1
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3") == "203.0.113.7"  # forged left part
    assert client_address("198.51.100.4", "1.2.3.4") == "198.51.100.4"  # not from the proxy: not believed
    assert client_address(None, "garbage") == ""  # nothing usable: as if no header came
    assert client_address(None, None) == ""
