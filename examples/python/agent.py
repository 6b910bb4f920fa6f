#!/usr/bin/env python3
"""A taskfleet agent in Python, standard library only: the reference for writing an agent in any language.

Run it with an `agent` API key (keys stay out of the command line, where `ps` would show them):

    export TASKFLEET_API_KEY=...   # taskfleet keys create --role agent --agent-prefix py- --name python
    python3 examples/python/agent.py --url http://127.0.0.1:8080 --id py-1 --capabilities gpu --concurrency 4

A task type is a function `(payload, ctx) -> result` (the result must be JSON). Register one with the
decorator, in this file or in your own script that imports it and calls `main()`:

    import agent

    @agent.task_type("resize")
    def resize(payload, ctx):
        ctx.log("resizing", level="info", width=payload["width"])
        for step in range(10):
            if ctx.cancelled.wait(0.1):   # cancelled, timed out, lease lost or draining: stop early
                return None
            ctx.progress(step * 10)
        if payload["width"] <= 0:
            raise agent.Permanent("width must be positive")   # fails at once, no retry
        return {"ok": True}                                   # any other exception is retried

    agent.main()

`ctx.task` is the claimed task (id, attempt, type, payload, priority, maxAttempts, timeoutSeconds). `ctx.workflow`
is a workflow step's place (id, step, round, inputs, feedback), None outside a workflow.
The protocol it speaks is in the README ("Agents in any language (HTTP)").
"""

import argparse
import http.client
import json
import logging
import os
import platform
import random
import signal
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HANDLERS = {}
RETRY = object()  # what `Agent.write` answers when a write may be sent again later
HELD_STATES = {"draining", "suspended", "frozen", "stopped", "failed"}
MAX_SLOTS = 1000  # the most slots the protocol allows (register and PATCH /v1/agents/:id)
log = logging.getLogger("taskfleet.agent")


def task_type(name):
    """Registers the decorated function as the handler of task type `name`."""

    def register(fn):
        HANDLERS[name] = fn
        return fn

    return register


class Permanent(Exception):
    """Raised by a handler for a failure that retrying cannot fix: the task goes dead at once."""


@task_type("echo")
def echo(payload, ctx):
    return payload


@task_type("sleep")
def sleep(payload, ctx):
    total, start = int(payload["ms"]) / 1000, time.monotonic()
    ctx.log("sleeping", ms=payload["ms"])
    while (done := time.monotonic() - start) < total:
        ctx.progress(int(100 * done / total))
        if ctx.cancelled.wait(min(total - done, 0.1)):
            return None
    ctx.progress(100)
    ctx.log("slept")
    return {"sleptMs": payload["ms"]}


@task_type("fail")
def fail(payload, ctx):
    times = payload.get("times")
    if times is not None and ctx.task["attempt"] > times:
        return {"succeededOnAttempt": ctx.task["attempt"]}
    message = payload.get("message", f"failing attempt {ctx.task['attempt']}")
    raise Permanent(message) if payload.get("permanent") else RuntimeError(message)


class Unreachable(Exception):
    """The supervisor did not answer (refused, reset, timed out): try again later."""


class ApiError(Exception):
    def __init__(self, status, body, retry_after=None):
        self.status, self.body = status, body if isinstance(body, dict) else {}
        # Busy rather than wrong (rate limited, a full store, a proxy between restarts): ask again later.
        self.transient = status in (429, 502, 503, 504)
        self.retry_after = retry_after
        super().__init__(f"{status} {self.body.get('type', '')}: {self.body.get('detail', body)}")

    @property
    def code(self):
        """The problem's code: the last part of its `type` (urn:taskfleet:problem:lease_lost)."""
        return self.body.get("code") or str(self.body.get("type", "")).rpartition(":")[2]


class Api:
    """JSON over HTTP, one keep-alive connection per thread; the long-poll claim can be cut short."""

    def __init__(self, url, key):
        parts = urllib.parse.urlsplit(url)
        self.https, self.netloc, self.base = parts.scheme == "https", parts.netloc, parts.path.rstrip("/")
        self.headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        self.local = threading.local()
        self.lock = threading.Lock()
        self.aborted, self.abortable = False, None

    def post(self, path, body, timeout=10.0, abortable=False):
        data = json.dumps(body, default=str, allow_nan=False).encode()
        while True:
            conn = getattr(self.local, "conn", None)
            reused = conn is not None
            if conn is None:
                kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                conn = self.local.conn = kind(self.netloc, timeout=timeout)
            try:
                status, raw, retry_after = self.exchange(conn, path, data, timeout, abortable)
                break
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                self.local.conn = None
                # The server may close an idle keep-alive connection just as a request goes out: one retry.
                if not reused or self.aborted and abortable:
                    raise Unreachable(f"{type(err).__name__}: {err}") from None
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:  # a proxy's error page, say
            parsed = {"detail": raw[:200].decode(errors="replace")}
        if 200 <= status < 300:
            return parsed
        raise ApiError(status, parsed, float(retry_after) if (retry_after or "").isdigit() else None)

    def exchange(self, conn, path, data, timeout, abortable):
        if conn.sock is None:
            conn.connect()
        conn.sock.settimeout(timeout)
        if abortable:
            with self.lock:
                if self.aborted:
                    return 200, b'{"tasks": []}', None
                self.abortable = conn
        try:
            conn.request("POST", f"{self.base}/v1{path}", data, self.headers)
            res = conn.getresponse()
            return res.status, res.read(), res.getheader("retry-after")
        finally:
            if abortable:
                with self.lock:
                    self.abortable = None

    def abort(self):
        """Ends the claim in flight (if any) and makes later claims answer nothing at once."""
        with self.lock:
            self.aborted, conn = True, self.abortable
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class TaskContext:
    """One claimed attempt: the handler's `ctx`, the agent's record of its lease, and what is still to send."""

    def __init__(self, agent, task):
        self.agent, self.task, self.id, self.attempt = agent, task, task["id"], task["attempt"]
        self.workflow = task.get("workflow")
        self.cancelled = threading.Event()
        self.why = None  # what set `cancelled`: cancel, timeout, lease_lost or drain
        now = time.monotonic()
        self.renew_at = now + agent.lease_ms / 3000
        self.deadline = now + task["timeoutSeconds"] if task.get("timeoutSeconds") else None
        self.lock = threading.Lock()  # guards the pending values (held briefly, never across a request)
        self.send_lock = threading.Lock()  # keeps this attempt's writes in order, the outcome last
        self.reported = False
        self.pending_progress, self.progress_at, self.pending_lines, self.lines_at = None, 0.0, [], 0.0

    def stop(self, why):
        if not self.cancelled.is_set():
            self.why = why
            self.cancelled.set()

    def progress(self, value):
        """Progress as a number 0..100 or a JSON object; sent at most once a second, the last value always."""
        with self.lock:
            self.pending_progress = value
        self.flush()

    def log(self, message, level="info", **fields):
        """A log line of this attempt (debug, info, warn or error); `fields` are kept beside it as JSON."""
        level = {"warning": "warn", "critical": "error"}.get(level, level)  # the names of Python's logging
        line = {"message": str(message), "level": level, **({"fields": fields} if fields else {})}
        with self.lock:
            if len(self.pending_lines) < 1000:  # the attempt keeps 200 anyway; an unreachable supervisor is no leak
                self.pending_lines.append(line)
            full = len(self.pending_lines) >= 50
        self.flush(lines_now=full)

    def flush(self, final=False, lines_now=False):
        """Sends what is pending: progress at most once a second, lines every 250 ms or 50 at a time."""
        with self.send_lock:
            now = time.monotonic()
            with self.lock:
                if self.reported:
                    return
                value = self.pending_progress if final or now - self.progress_at >= 1 else None
                if value is not None:
                    self.pending_progress, self.progress_at = None, now
                lines = []
                if final or lines_now or now - self.lines_at >= 0.25:
                    lines, self.pending_lines, self.lines_at = self.pending_lines, [], now
            # What cannot be sent now goes with the next flush; the last flush before the outcome insists.
            if value is not None and self.agent.write(self, "progress", {"value": value}, final) is RETRY:
                with self.lock:
                    self.pending_progress = value if self.pending_progress is None else self.pending_progress
            unsent = []
            for i in range(0, len(lines), 200):
                if self.agent.write(self, "logs", {"lines": lines[i : i + 200]}, final) is RETRY:
                    unsent += lines[i : i + 200]
            with self.lock:
                self.pending_lines[:0] = unsent

    def report(self, kind, body):
        """Sends the outcome once (the handler's thread and a drain may both try); what was pending first."""
        self.flush(final=True)
        with self.send_lock:
            if self.reported:
                return
            self.reported = True
            self.agent.write(self, kind, body, retry=True)


class Agent:
    def __init__(self, args, key):
        self.args, self.api = args, Api(args.url, key)
        self.lease_ms, self.heartbeat_ms = 30_000, 5_000
        self.running = {}  # task id -> TaskContext
        self.lock = threading.Condition()
        self.held = False  # the supervisor says: take no new work
        self.drain = threading.Event()  # no new claims; exit once idle or after the grace period
        self.signalled_at = None  # set by SIGTERM/SIGINT (a signal handler takes no lock: the main thread may hold it)
        self.cpu = (time.monotonic(), sum(os.times()[:2]))
        # An admin may change the slots at run time (PATCH /v1/agents/:id): threads are made as they are needed,
        # up to the most the protocol allows, and `slots` limits how many run.
        self.slots = args.concurrency
        self.disabled = set()  # task types an admin disabled: not claimed, handed back if claimed anyway
        self.pool = ThreadPoolExecutor(MAX_SLOTS, thread_name_prefix="task")

    def call(self, path, body, timeout=10.0, abortable=False, give_up=None, insist=False):
        """Posts until the supervisor answers (backing off while it is unreachable or busy) or `give_up` passes;
        once a drain began, only what must still be sent (`insist`: outcomes, the stop) is tried again."""
        delay = 0.2
        while True:
            try:
                return self.api.post(path, body, timeout, abortable)
            except (Unreachable, ApiError) as err:
                if isinstance(err, ApiError) and not err.transient:
                    raise
                if (give_up is not None and time.monotonic() > give_up) or self.api.aborted and abortable:
                    raise
                if not insist and (self.drain.is_set() or self.signalled_at is not None):
                    raise
                wait = getattr(err, "retry_after", None) or delay * random.uniform(0.5, 1)
                if give_up is not None:
                    wait = max(0, min(wait, give_up - time.monotonic()))
                log.warning("supervisor unreachable or busy (%s): retrying in %.1f s", err, wait)
                end = time.monotonic() + wait
                while time.monotonic() < end and (insist or self.signalled_at is None):  # a signal cuts it short
                    time.sleep(min(0.05, max(0, end - time.monotonic())))
                delay = min(delay * 2, 5)

    def register(self):
        body = {
            "capabilities": self.args.capabilities,
            "types": self.args.types,
            "concurrency": self.args.concurrency,
            "version": "taskfleet-python-agent/1",
            "metadata": {"hostname": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version()},
        }
        answer = self.call(f"/agents/{self.args.id}/register", body)
        self.lease_ms, self.heartbeat_ms = answer["settings"]["leaseMs"], answer["settings"]["heartbeatMs"]
        self.obey(answer["agent"]["state"])
        self.follow(answer["agent"])
        log.info("registered %s (%s), lease %d ms", self.args.id, answer["agent"]["state"], self.lease_ms)

    def register_quietly(self):
        try:
            self.register()
        except (ApiError, Unreachable) as err:  # draining, or refused: the next heartbeat or claim tries again
            log.warning("register again failed: %s", err)

    def obey(self, state):
        held = state in HELD_STATES
        if held != self.held:
            log.warning("supervisor state %s: %s", state, "taking no new work" if held else "taking work again")
        self.held = held
        if state == "draining":
            self.drain.set()
        with self.lock:
            self.lock.notify_all()

    def follow(self, settings):
        """Applies the admin's settings (register and heartbeat answers carry them): the slots, its own
        concurrency when none is asked; the disabled types. Fewer slots: running tasks finish, no new claim until
        under the limit."""
        slots = settings.get("desiredConcurrency") or self.args.concurrency
        disabled = set(settings.get("disabledTypes") or [])
        if slots != self.slots or disabled != self.disabled:
            log.info("settings: concurrency %d, disabled types: %s", slots, ", ".join(sorted(disabled)) or "none")
        with self.lock:
            self.slots, self.disabled = slots, disabled
            self.lock.notify_all()

    def write(self, run, kind, body, retry=False):
        """A write about a claimed attempt: the answer, or RETRY when it may be sent again later, or None when
        refused (a 409 lease_lost means another attempt owns the task now: stop it and drop what it does)."""
        give_up = time.monotonic() + max(60, 2 * self.lease_ms / 1000) if retry else time.monotonic()
        try:
            body = {"agentId": self.args.id, "attempt": run.attempt, **body}
            return self.call(f"/tasks/{run.id}/{kind}", body, give_up=give_up, insist=retry)
        except ApiError as err:
            if err.code == "lease_lost":
                log.warning("task %s attempt %d: %s dropped, the lease is lost", run.id, run.attempt, kind)
                run.stop("lease_lost")
            elif err.transient and not retry:
                return RETRY
            else:
                log.error("task %s attempt %d: %s refused: %s", run.id, run.attempt, kind, err)
        except Unreachable as err:
            if not retry:
                return RETRY
            log.error("task %s attempt %d: %s not sent: %s", run.id, run.attempt, kind, err)
        return None

    def execute(self, run):
        try:
            result = HANDLERS[run.task["type"]](run.task["payload"], run)
            try:
                json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as err:
                raise Permanent(f"the result is not JSON: {err}") from None
            outcome = ("complete", {"result": result})
        except Exception as err:  # any failure of the handler is the task's failure
            log.info("task %s attempt %d failed: %r", run.id, run.attempt, err)
            message = (str(err) or type(err).__name__)[:4000]
            error = {"message": message, "retryable": not isinstance(err, Permanent)}
            outcome = ("fail", {"error": error})
        if run.why == "timeout":
            outcome = ("fail", {"error": {"message": f"timed out after {run.task['timeoutSeconds']} s"}})
        elif run.why in ("cancel", "drain"):
            outcome = ("release", {})
        if run.why != "lease_lost":
            run.report(*outcome)
        self.finished(run)

    def finished(self, run):
        with self.lock:
            self.running.pop(run.id, None)
            self.lock.notify_all()

    def claim_loop(self):
        while not self.drain.is_set():
            with self.lock:
                free = self.slots - len(self.running)
                if self.held or free <= 0:
                    self.lock.wait(0.5)
                    continue
            try:
                body = {"max": free, "waitSeconds": self.args.wait_seconds}
                answer = self.call(f"/agents/{self.args.id}/claim", body, self.args.wait_seconds + 15, True)
            except ApiError as err:
                log.error("claim refused: %s", err)
                if err.status == 404:
                    self.register_quietly()
                else:
                    self.drain.wait(1)
                continue
            except Unreachable:
                return  # aborted by the drain
            for task in answer["tasks"]:
                run = TaskContext(self, task)
                with self.lock:
                    self.running[run.id] = run
                if self.drain.is_set() or task["type"] in self.disabled:  # disabled: claimed before it knew
                    run.report("release", {})
                    self.finished(run)
                else:
                    self.pool.submit(self.execute, run)

    def heartbeat_loop(self):
        while True:
            with self.lock:
                running = [{"taskId": r.id, "attempt": r.attempt} for r in self.running.values()]
            try:
                body = {"running": running, "metrics": self.metrics(), "concurrency": self.slots}
                answer = self.api.post(f"/agents/{self.args.id}/heartbeat", body)
                self.obey(answer["state"])
                self.follow(answer)
                self.heartbeat_ms = answer.get("heartbeatMs", self.heartbeat_ms)
            except ApiError as err:
                log.warning("heartbeat refused: %s", err)
                if err.status == 404:  # the supervisor forgot this agent (an admin removed it): register again
                    self.register_quietly()
            except Unreachable as err:
                log.warning("heartbeat not sent: %s", err)
            time.sleep(self.heartbeat_ms / 1000)

    def lease_loop(self):
        """Renews leases (every leaseMs/3), stops timed-out tasks and sends pending progress and log lines."""
        while True:
            time.sleep(0.2)
            with self.lock:
                runs = list(self.running.values())
            for run in runs:
                try:
                    self.tend(run)
                except Exception:  # a progress value that is not JSON, say: log it, keep renewing the others
                    log.exception("task %s attempt %d", run.id, run.attempt)

    def tend(self, run):
        now = time.monotonic()
        if run.deadline is not None and now > run.deadline:
            run.stop("timeout")
        run.flush()
        if now >= run.renew_at and not run.reported:
            run.renew_at = now + self.lease_ms / 3000
            answer = self.write(run, "lease", {})
            if answer is RETRY:
                run.renew_at = now + 1  # try again soon: the lease is still running out
            elif answer and answer.get("cancelRequested"):
                run.stop("cancel")

    def metrics(self):
        now, cpu = time.monotonic(), sum(os.times()[:2])
        percent = 100 * (cpu - self.cpu[1]) / max(now - self.cpu[0], 1e-3)
        self.cpu = (now, cpu)
        try:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            rss = 0
        return {"cpuPercent": round(percent, 1), "rssBytes": rss}

    def run(self):
        try:
            self.register()
        except Unreachable:
            return 0  # signalled before the supervisor ever answered
        except ApiError as err:
            log.error("registration refused: %s", err)
            return 2
        for loop in (self.heartbeat_loop, self.lease_loop):
            threading.Thread(target=loop, name=loop.__name__, daemon=True).start()
        claimer = threading.Thread(target=self.claim_loop, name="claim_loop", daemon=True)
        claimer.start()
        while not self.drain.wait(0.05):
            if self.signalled_at is not None:
                self.drain.set()
        if self.signalled_at is not None:
            log.info("signalled: draining for up to %.0f s", self.args.drain_seconds)
        self.api.abort()
        log.info("draining: %d running, no new claims", len(self.running))
        claimer.join(5)  # a claim it already holds is handed back; one stuck re-registering is left behind
        # A drain the supervisor asked for lets running tasks finish; a signal gives them the grace period.
        with self.lock:
            while self.running and not self.grace_over():
                self.lock.wait(0.2)
            left = list(self.running.values())
        for run in left:
            run.stop("drain")
        for run in left:  # a handler that ignores ctx.cancelled is handed back without waiting for it
            with self.lock:
                self.lock.wait_for(lambda: run.id not in self.running, 1)
            run.report("release", {})
        try:  # so the supervisor does not count the heartbeats it will miss
            self.call(f"/agents/{self.args.id}/stop", {}, give_up=time.monotonic() + 5, insist=True)
        except (ApiError, Unreachable) as err:
            log.warning("stop not recorded: %s", err)
        log.info("stopped (%d tasks handed back)", len(left))
        return 0

    def grace_over(self):
        return self.signalled_at is not None and time.monotonic() > self.signalled_at + self.args.drain_seconds


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description="A taskfleet agent (the key comes from TASKFLEET_API_KEY).")
    p.add_argument("--url", default=env("TASKFLEET_URL", "http://127.0.0.1:8080"))
    p.add_argument("--id", default=env("TASKFLEET_AGENT_ID", f"py-{socket.gethostname()}"))
    p.add_argument("--capabilities", default=env("TASKFLEET_CAPABILITIES", ""), help="comma-separated")
    p.add_argument("--types", default=",".join(HANDLERS), help="comma-separated (default: every registered type)")
    p.add_argument("--concurrency", type=int, default=int(env("TASKFLEET_CONCURRENCY", "4")))
    p.add_argument("--wait-seconds", type=int, default=30, choices=range(1, 31), metavar="1..30",
                   help="how long a claim waits for a task (a long poll)")
    p.add_argument("--drain-seconds", type=float, default=25, help="grace for running tasks on SIGTERM")
    p.add_argument("--log-level", default=env("TASKFLEET_LOG_LEVEL", "info"))
    args = p.parse_args(argv)
    args.capabilities = sorted({c.strip().lower() for c in args.capabilities.split(",") if c.strip()})
    args.types = [t for t in args.types.split(",") if t]
    unknown = [t for t in args.types if t not in HANDLERS]
    if unknown:
        p.error(f"no handler for {', '.join(unknown)} (registered: {', '.join(HANDLERS)})")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    key = os.environ.get("TASKFLEET_API_KEY", "").strip()
    if not key:
        sys.exit("TASKFLEET_API_KEY is not set (an API key with the agent role)")
    agent = Agent(args, key)

    def on_signal(_signum, _frame):
        if agent.signalled_at is None:
            agent.signalled_at = time.monotonic()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = agent.run()
    logging.shutdown()
    sys.stdout.flush()
    # A handler that ignored ctx.cancelled may still run on a pool thread; its task was handed back.
    os._exit(code)


if __name__ == "__main__":
    main()
