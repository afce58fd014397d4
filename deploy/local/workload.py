"""Drive the five services as a workload: a stack of their own over a given Kafka and FerretDB,
HTTP calls retried across restarts, a tenant with staff and enrolled learners, trackers raised and
processed.

The service processes listen on free ports, with database and topic prefixes of their own, so a
run touches nobody else's data. Every call is retried while a service is down (connection
failures and 5xx), so the same workload runs under ``kill -9`` (the fault harness,
``tests/faults/``) and at full speed (the benchmark, ``bench/pipeline.py``). The tenant's staff,
learner and enrolment are the end-to-end tests' own (``tests/e2e/helpers.py`` uses them from
here).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from devstack import (
    SERVICES,
    ServiceProcess,
    kill_service,
    restart_service,
    start_replicas,
    stop_services,
    wait_ready,
)

from ilrflow.platform.auth import mint_token
from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ADMIN = "admin-1"
TUTOR = "tutor-1"
TRACKER_TYPES = ("change_of_address", "change_of_name", "change_of_contact_details")
HTTP_DEADLINE_S = 180.0  # how long one call may keep failing while services restart

GROUP = "cohort-a"
STAFF = (
    {
        "id": ADMIN,
        "name": "Ada Admin",
        "email": "ada@example.org",
        "roles": ["admin"],
        "groups": [GROUP],
    },
    {
        "id": TUTOR,
        "name": "Tom Tutor",
        "email": "tom@example.org",
        "roles": ["tutor"],
        "groups": [GROUP],
    },
)
LEARNER = {
    "given_names": "Alice",
    "family_name": "Walker",
    "email": "alice@example.org",
    "phone": "07700900123",
    "date_of_birth": "2004-05-17",
    "uln": "9276308686",
    "address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"},
    "group": GROUP,
    "primary_tutor_id": TUTOR,
    "sex": "F",
    "ethnicity": 31,
    "lldd_health_problem": 2,
    "prior_attainment": 3,
}
ENROLMENT = {
    "standard_code": 91,
    "start_date": "2025-09-01",
    "planned_end_date": "2027-03-31",
    "employer": {"ern": "123456789", "name": "Acme Engineering Ltd"},
    "weekly_hours": 37.5,
    "planned_otj_hours": 400,
    "price": {"training": 9000, "assessment": 1000},
    "employment": {"date_from": "2023-06-05", "length_of_employment": 4, "small_employer": False},
    "agreement_id": "A1B2C3",
    "delivery_postcode": "LS1 4AP",
}


def tracker_probe(learner_id: str) -> dict[str, Any]:
    """A request the tracker service answers 404 until its projection knows the learner, and
    refuses for its empty change (422) once it does."""
    return {"type": "change_of_name", "learner_id": learner_id, "changes": {}}


@dataclass
class ServiceStack:
    """The services' processes: ``replicas`` every replica of each service, ``processes`` the
    first of each. A client sends each request to the next replica that is up, in turn."""

    settings: Settings
    env: dict[str, str]
    replicas: dict[str, list[ServiceProcess]]
    lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: Counter[str] = field(default_factory=Counter)
    down: set[tuple[str, int]] = field(default_factory=set)  # (service, replica) killed, not ready

    @property
    def processes(self) -> dict[str, ServiceProcess]:
        return {name: running[0] for name, running in self.replicas.items()}

    def all_processes(self) -> list[ServiceProcess]:
        return [process for running in self.replicas.values() for process in running]

    def url(self, service: str) -> str:
        """The next replica's address that is up, in turn: each serves its share of the calls,
        and one being killed and restarted none (any replica when none is up)."""
        with self.lock:
            running = self.replicas[service]
            up = [p for p in running if (service, p.replica) not in self.down] or running
            self._calls[service] += 1
            return up[self._calls[service] % len(up)].url

    def token(self, tenant: str, sub: str, *roles: str) -> str:
        return mint_token(self.settings, tenant=tenant, sub=sub, roles=list(roles), groups=[GROUP])

    def client(self, service: str, tenant: str, sub: str, *roles: str) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.token(tenant, sub, *roles)}"}
        return httpx.Client(
            base_url=self.url(service),
            headers=headers,
            timeout=30,
            transport=_ToReplicas(self, service),
        )

    def kill_and_restart(self, name: str, replica: int = 0) -> float:
        """SIGKILL one replica of a service, start it again, wait until it is ready; seconds it
        was down. Its clients' requests go to the other replicas meanwhile."""
        with self.lock:
            old = self.replicas[name][replica]
            self.down.add((name, replica))
        started = time.monotonic()
        kill_service(old)
        new = self._restart(old)
        # Like a supervisor: a service that exits at start-up (its broker is still coming back)
        # is started again, within a deadline.
        deadline = time.monotonic() + 300
        while True:
            try:
                wait_ready([new], deadline_seconds=120)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                if new.process.poll() is None:
                    kill_service(new)
                new = self._restart(new)
        with self.lock:
            self.down.discard((name, replica))
        return time.monotonic() - started

    def _restart(self, service: ServiceProcess) -> ServiceProcess:
        """Start a replica again and hold it at once (it is stopped with the stack)."""
        new = restart_service(service, self.env)
        with self.lock:
            self.replicas[service.name][service.replica] = new
        return new

    def rss_mb(self) -> dict[str, float]:
        return {p.label: _rss_mb(p.process.pid) for p in self.all_processes()}


# One TLS context for every client: httpx builds one per transport by default, loading the CA
# bundle (~30 ms of CPU), and the workload makes a client per call. On a 2-core box the bench's
# clients took that CPU from the pipeline it measured. The services answer plain HTTP.
TLS = httpx.create_ssl_context()


class _ToReplicas(httpx.HTTPTransport):
    """Sends each request to the next replica of a service that is up (``ServiceStack.url``):
    a call retried after a replica was killed goes to another one."""

    def __init__(self, stack: ServiceStack, service: str) -> None:
        super().__init__(verify=TLS)
        self._stack, self._service = stack, service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = httpx.URL(self._stack.url(self._service)).port
        request.url = request.url.copy_with(port=port)
        return super().handle_request(request)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_settings_env(bootstrap: str, mongo_url: str, run_id: str) -> dict[str, str]:
    """The settings of a run's processes: its Kafka and database, its own database and topic
    prefix (``run_id``), quiet logs."""
    return {
        "ILRFLOW_KAFKA_BOOTSTRAP": bootstrap,
        "ILRFLOW_MONGO_URL": mongo_url,
        "ILRFLOW_DB_PREFIX": run_id,
        "ILRFLOW_TOPIC_PREFIX": f"{run_id}.",
        "ILRFLOW_LOG_LEVEL": "WARNING",
    }


@contextmanager
def service_stack(
    bootstrap: str,
    mongo_url: str,
    label: str = "stack",
    replicas: int = 1,
    settings_env: dict[str, str] | None = None,
) -> Iterator[ServiceStack]:
    """The five services, ``replicas`` processes of each, over their own databases and topics;
    ``settings_env`` adds to (or overrides) their settings."""
    run_id = f"{label}{secrets.token_hex(3)}"
    env = run_settings_env(bootstrap, mongo_url, run_id) | {
        "ILRFLOW_RELAY_POLL_SECONDS": "0.2",
        "ILRFLOW_SMTP_HOST": "",
        **(settings_env or {}),
    }
    settings = Settings(
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        db_prefix=run_id,
        topic_prefix=env["ILRFLOW_TOPIC_PREFIX"],
    )
    asyncio.run(ensure_topics(bootstrap, settings.topic_partitions, prefix=settings.topic_prefix))
    ports = {name: [free_port() for _ in range(replicas)] for name in SERVICES}
    log_dir = REPO / ".stack" / "service-logs" / run_id
    processes = start_replicas(ports, env, log_dir)
    by_service = {name: [p for p in processes if p.name == name] for name in SERVICES}
    stack = ServiceStack(settings, env, by_service)
    try:
        wait_ready(processes)
        yield stack
    finally:
        stop_services(stack.all_processes())


# --- HTTP with retries across crashes ----------------------------------------------------------


def call(
    client: httpx.Client, method: str, path: str, ok: tuple[int, ...], **kwargs: Any
) -> httpx.Response:
    """Send until the answer's status is in ``ok``; connection failures and 5xx are retried (the
    service is being restarted), anything else fails at once."""
    deadline = time.monotonic() + HTTP_DEADLINE_S
    while True:
        try:
            response = client.request(method, path, **kwargs)
            if response.status_code in ok:
                return response
            if response.status_code < 500:
                raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as error:
            last = repr(error)
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {path} kept failing: {last}")
        time.sleep(0.2)  # poll interval while the service restarts


def poll(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (httpx.TransportError, AssertionError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what}")
        time.sleep(interval)  # poll interval


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Workload:
    stack: ServiceStack
    tenant: str
    learners: list[str] = field(default_factory=list)
    trackers: dict[str, str] = field(default_factory=dict)  # tracker id -> learner id
    done: int = 0
    ambiguous_raises: int = 0
    ambiguous_processes: int = 0
    progress_lock: threading.Lock = field(default_factory=threading.Lock)

    def admin(self, service: str) -> httpx.Client:
        return self.stack.client(service, self.tenant, ADMIN, "admin")


def prepare(stack: ServiceStack, learners: int, workers: int) -> Workload:
    """A tenant with staff, the tracker types on, cohort-a allocated to admin-1, enrolled learners
    that the tracker service already knows (the end-to-end tests' set-up, with every call retried
    across crashes)."""
    work = Workload(stack, f"tenant-{secrets.token_hex(4)}")
    with work.admin("learner") as http:
        for staff in STAFF:
            call(http, "POST", "/v1/staff", (201,), json=staff)
    with work.admin("tracker") as http:
        for tracker_type in TRACKER_TYPES:
            call(http, "PUT", f"/v1/tracker-types/{tracker_type}", (200,), json={"enabled": True})
        rules = {"allocation_rules": [{"learner_group": GROUP, "admin_id": ADMIN}]}
        call(http, "PUT", "/v1/tracker-settings", (200,), json=rules)
    with ThreadPoolExecutor(workers) as pool:
        work.learners = list(pool.map(lambda n: _enrolled_learner(work, n), range(learners)))
    return work


def _enrolled_learner(work: Workload, n: int) -> str:
    learner = {**LEARNER, "family_name": f"Walker{_letters(n)}", "email": f"learner{n}@example.org"}
    with work.admin("learner") as http:
        learner_id: str = call(http, "POST", "/v1/learners", (201,), json=learner).json()["id"]
        call(http, "POST", f"/v1/learners/{learner_id}/enrolments", (201,), json=ENROLMENT)
    with work.admin("tracker") as http:
        poll(
            lambda: http.post("/v1/trackers", json=tracker_probe(learner_id)).status_code == 422,
            120,
            f"learner {learner_id} known to the tracker service",
        )
    return learner_id


def _letters(n: int) -> str:
    """A name-safe unique suffix (names allow letters only)."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out += chr(ord("a") + digit)
        if n == 0:
            return out


def changes_for(tracker_type: str, n: int) -> dict[str, Any]:
    """A change unique to tracker ``n``, so each one is an applied ILR change."""
    if tracker_type == "change_of_address":
        return {"address": {"lines": [f"{n + 1} Mill Lane", "Bradford"], "postcode": "BD1 1AA"}}
    if tracker_type == "change_of_name":
        return {"given_names": "Alicia", "family_name": f"Smith{_letters(n)}"}
    return {"email": f"changed{n}@example.org", "phone": f"0770{n:07d}"}


def run_tracker(work: Workload, n: int) -> str:
    """Raise tracker ``n`` and process it, surviving crashes of the tracker service."""
    learner_id = work.learners[n % len(work.learners)]
    tracker_type = TRACKER_TYPES[n % len(TRACKER_TYPES)]
    note = f"workload tracker {n}"
    request = {
        "type": tracker_type,
        "learner_id": learner_id,
        "changes": changes_for(tracker_type, n),
        "note": note,
    }
    with work.admin("tracker") as http:
        tracker_id = _raise_once(work, http, request)
        _process_once(work, http, tracker_id)
    with work.progress_lock:
        work.trackers[tracker_id] = learner_id
        work.done += 1
    return tracker_id


def _raise_once(work: Workload, http: httpx.Client, request: dict[str, Any]) -> str:
    """POST /v1/trackers has no idempotency key: after a failure whose outcome is unknown, look
    for the tracker by its unique note before raising again (never two trackers for one)."""
    deadline = time.monotonic() + HTTP_DEADLINE_S
    while True:
        try:
            response = http.post("/v1/trackers", json=request)
            if response.status_code == 201:
                return str(response.json()["id"])
            if response.status_code < 500:
                raise AssertionError(f"raise: {response.status_code} {response.text}")
        except httpx.TransportError:
            pass
        with work.progress_lock:
            work.ambiguous_raises += 1
        existing = _find_by_note(http, request["learner_id"], request["note"])
        if existing is not None:
            return existing
        if time.monotonic() > deadline:
            raise AssertionError(f"raise kept failing: {request['note']}")
        time.sleep(0.2)  # poll interval while the service restarts


def _find_by_note(http: httpx.Client, learner_id: str, note: str) -> str | None:
    items = call(
        http, "GET", "/v1/trackers", (200,), params={"learner_id": learner_id, "limit": 200}
    ).json()["items"]
    found = [t["id"] for t in items if t.get("note") == note]
    assert len(found) <= 1, f"two trackers raised for {note!r}: {found}"
    return str(found[0]) if found else None


def _process_once(work: Workload, http: httpx.Client, tracker_id: str) -> None:
    deadline = time.monotonic() + HTTP_DEADLINE_S
    while True:
        try:
            response = http.post(f"/v1/trackers/{tracker_id}/process")
            if response.status_code == 200:
                return
            if response.status_code < 500 and response.status_code != 409:
                raise AssertionError(f"process: {response.status_code} {response.text}")
        except httpx.TransportError:
            pass
        with work.progress_lock:
            work.ambiguous_processes += 1
        status = call(http, "GET", f"/v1/trackers/{tracker_id}", (200,)).json()["status"]
        if status == "processed":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process kept failing: {tracker_id} ({status})")
        time.sleep(0.2)  # poll interval while the service restarts


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0
