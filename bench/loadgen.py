"""A small HTTP load generator: asyncio, the standard library only, one process.

``bench_load.py`` runs it as a separate process on loopback and reads its answer from stdout:

    python bench/loadgen.py '{"scenario": "register", "port": 8001, ...}'

Scenarios (closed loop: each client sends its next request when the last one is answered, until
its work runs out or the deadline passes):

``register``
    ``clients`` concurrent participants; each GETs ``/e/<slug>/register``, takes the CSRF token
    from the form and the session cookie from ``Set-Cookie``, and POSTs the form back with a new
    email address. A registration counts when the POST answers 303. Stops after ``count``
    registrations or ``seconds``.
``checkin``
    ``clients`` concurrent scanners POST ``{"code", "session_id", "gate"}`` as JSON to
    ``/api/v1/checkins`` with the device's bearer token, each scan a code nobody scanned before
    (taken in turn from ``codes``). A scan counts when the answer is 200 with ``"status": "ok"``.
    Stops when the codes run out or after ``seconds``.

The answer is JSON: the elapsed time, each successful operation's latency in milliseconds, and
the errors (their number and a few examples); for ``checkin``, each scanner's mean latency too
(how evenly the server shares its time between the doors). Requests are HTTP/1.1; a connection
is kept when the server allows it (gunicorn's sync workers close it after every answer).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
EXAMPLES = 5


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def cookies(self) -> dict[str, str]:
        jar = {}
        for key, value in self.headers:
            if key == "set-cookie":
                pair = value.split(";", 1)[0]
                name, _, content = pair.partition("=")
                jar[name.strip()] = content.strip()
        return jar


class Connection:
    """One HTTP/1.1 connection to the server, opened again whenever the server closed it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            return await self._read()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            raise

    async def _read(self) -> Answer:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = []
        for line in header_lines:
            if line:
                key, _, value = line.partition(":")
                headers.append((key.strip().lower(), value.strip()))
        answer = Answer(status, headers, b"")
        if (answer.header("transfer-encoding") or "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            answer.body = b"".join(c[:-2] for c in chunks)
        elif (length := answer.header("content-length")) is not None:
            answer.body = await self.reader.readexactly(int(length))
        else:
            answer.body = await self.reader.read()
            self.close()
        if (answer.header("connection") or "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    client_means: list[float] = field(default_factory=list)
    errors: int = 0
    examples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(what[:300])


async def register_client(spec: dict, index: int, tally: Tally, budget: list, deadline: float):
    connection = Connection(spec["host"], spec["port"])
    path = f"/e/{spec['slug']}/register"
    number = 0
    organisations = spec["organisations"]
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        number += 1
        start = time.perf_counter()
        try:
            form = await connection.request("GET", path, {})
            found = CSRF.search(form.body)
            if form.status != 200 or found is None:
                tally.error(f"GET {form.status}: {form.body[:200]!r}")
                continue
            cookie = "; ".join(f"{k}={v}" for k, v in form.cookies().items())
            fields = {
                **spec["form"],
                "csrf_token": found.group(1).decode(),
                "email": f"{spec['tag']}-{index}-{number}@example.org",
                "full_name": f"Participant {index}-{number}",
                "organisation": organisations[(index * 7 + number) % len(organisations)],
            }
            body = urlencode(fields, doseq=True).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            answer = await connection.request("POST", path, headers, body)
            if answer.status != 303:
                tally.error(f"POST {answer.status}: {answer.body[:200]!r}")
                continue
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            tally.error(f"{type(error).__name__}: {error}")
            connection.close()
            continue
        tally.latencies.append((time.perf_counter() - start) * 1000)
    connection.close()


async def checkin_client(spec: dict, index: int, tally: Tally, codes, deadline: float):
    connection = Connection(spec["host"], spec["port"])
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {spec['token']}"}
    mine = []
    for code in codes:
        if time.perf_counter() >= deadline:
            break
        body = json.dumps(
            {"code": code, "session_id": spec["session_id"], "gate": f"Door {index}"}
        ).encode()
        start = time.perf_counter()
        try:
            answer = await connection.request("POST", "/api/v1/checkins", headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            tally.error(f"{type(error).__name__}: {error}")
            connection.close()
            continue
        elapsed = (time.perf_counter() - start) * 1000
        if answer.status != 200 or json.loads(answer.body).get("status") != "ok":
            tally.error(f"{answer.status}: {answer.body[:200]!r}")
            continue
        tally.latencies.append(elapsed)
        mine.append(elapsed)
    connection.close()
    if mine:
        tally.client_means.append(sum(mine) / len(mine))


async def run(spec: dict) -> dict:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + spec["seconds"]
    if spec["scenario"] == "register":
        budget = [spec["count"]]
        clients = [
            register_client(spec, i, tally, budget, deadline) for i in range(spec["clients"])
        ]
    else:
        codes = iter(spec["codes"])  # shared: each scanner takes the next unscanned code
        clients = [checkin_client(spec, i, tally, codes, deadline) for i in range(spec["clients"])]
    await asyncio.gather(*clients)
    return {
        "seconds": time.perf_counter() - start,
        "latencies": tally.latencies,
        "client_means": tally.client_means,
        "errors": tally.errors,
        "examples": tally.examples,
    }


def main() -> None:
    spec = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    spec.setdefault("host", "127.0.0.1")
    json.dump(asyncio.run(run(spec)), sys.stdout)


if __name__ == "__main__":
    main()
