"""Instructions per registration and per door scan, counted by valgrind: figures that do not
move with the machine's load.

Rates and times move by up to half between days of one machine kind (see bench/README.md).
Callgrind, valgrind's instruction counter, counts what a process runs: the same for the same code
and inputs, whatever else the machine is doing. So this is the figure to compare two versions of
the code with. It runs, in-process through Flask's test client on a temporary SQLite database (so
that the database's work is counted too):

- a registration (GET the form, POST it) into one session, by regapp and by the load
  benchmark's minimal app (``bench/minimal_app.py``);
- a door scan (the check-in API, a new code each time) by regapp.

Each is run twice under callgrind, ``--runs`` operations apart, so that the start-up (imports,
migrations, setting up the event) cancels out: per operation = (longer run - shorter run) / runs.
Needs valgrind; about 5 minutes on 2 cores. Not part of ``make bench``.

    .venv/bin/python bench/bench_instructions.py               # record in README.md
    .venv/bin/python bench/bench_instructions.py --tree /tmp/old --no-record   # another checkout

``--tree`` measures the code of another checkout (an older commit, say) with this venv.
"""

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
#: Operations both runs of a pair do; the longer run does ``--runs`` more.
BASE = 20
#: What the app keeps per process for a time (``<name>_MAX_AGE``).
KEPT = ("REGISTRATION_PAGE", "CHECKIN_COUNTS", "CHECKIN_LOOKUP")
#: Seats in the registration's session: as in the load benchmark, some registrations get a
#: seat and the rest join the waitlist (with the default ``--runs``, half each).
CAPACITY = BASE + 50
SCENARIOS = {
    "registration": ("registration (GET the form + POST it)", "regapp"),
    "minimal": ("registration (GET the form + POST it)", "minimal app"),
    "scan": ("door scan (check-in API, a new code)", "regapp"),
}


# --- one run, under valgrind ------------------------------------------------------------------


def worker(tree: Path, scenario: str, count: int, folder: Path) -> None:
    """``count`` operations of ``scenario`` with the code of ``tree``, on a fresh SQLite
    database in ``folder``."""
    sys.path[0] = str(tree / "bench")  # instead of this script's folder
    sys.path.insert(0, str(tree))
    import bench_load
    from flask_migrate import upgrade

    from regapp import create_app

    url = f"sqlite:///{folder / 'instructions.sqlite3'}"
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "MAIL_WORKER": False}
    # What each process keeps for a second (the form's page, the door's counts and lookups)
    # is kept for the whole run: under valgrind an operation takes a large and varying part
    # of a second, so a 1 s age would make the count depend on the machine's speed. Served
    # at full speed, a page read again once a second is shared by a hundred registrations.
    config |= {f"{kept}_MAX_AGE": 3600 for kept in KEPT}
    app = create_app({**config, "INSTANCE_PATH": str(folder / "instance")})
    app.config["REGISTER_LIMIT"] = "1000000 per minute"
    with app.app_context():
        upgrade()
    if scenario == "scan":
        session_id, token, codes = bench_load.door_rush_setup(url, folder, count)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for code in codes:
            body = {"code": code, "session_id": session_id}
            answer = client.post("/api/v1/checkins", json=body, headers=headers).get_json()
            assert answer["status"] == "ok", answer
        return
    with app.app_context():
        session = bench_load.make_event("instructions", CAPACITY, datetime.now(UTC))
        slug, form = session.event.slug, {**bench_load.REGISTRATION_FORM, "sessions": [session.id]}
    if scenario == "minimal":
        import minimal_app

        minimal_app.create_table(url)
        os.environ["MINIMAL_DATABASE_URL"] = url
        app = minimal_app.create_app()
    client = app.test_client()
    for n in range(count):
        page = client.get(f"/e/{slug}/register").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = form | {
            "csrf_token": token,
            "full_name": f"Participant {n}",
            "email": f"p{n}-{secrets.token_hex(4)}@example.org",
            "organisation": bench_load.ORGANISATIONS[n % len(bench_load.ORGANISATIONS)],
        }
        answer = client.post(f"/e/{slug}/register", data=data)
        assert answer.status_code == 303, answer.status_code


# --- the pairs of runs ------------------------------------------------------------------------


def instructions(tree: Path, scenario: str, count: int) -> int:
    """Instructions of one run of ``count`` operations, as callgrind counts them."""
    with tempfile.TemporaryDirectory(prefix="regapp-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        env = {
            **os.environ,
            "PYTHONHASHSEED": "0",
            "REGAPP_REDIS_URL": "",  # counted in-process (memory://): no server's share is lost
        }
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(BENCH / "bench_instructions.py"),
            "--worker",
            str(tree),
            scenario,
            str(count),
            folder,
        ]
        done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{scenario} x {count} failed:\n{done.stderr[-3000:]}")
        totals = re.search(r"^(?:totals|summary): (\d+)", out.read_text(), re.MULTILINE)
        return int(totals.group(1))


def per_operation(tree: Path, scenario: str, runs: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(lambda n: instructions(tree, scenario, n), [BASE, BASE + runs])
    return (long - short) / runs


def table(figures: dict[str, float]) -> str:
    from machine import markdown_table

    minimal = figures.get("minimal")
    rows = []
    for scenario, count in figures.items():
        operation, app = SCENARIOS[scenario]
        share = f"{minimal / count:.0%}" if minimal and operation == SCENARIOS["minimal"][0] else ""
        rows.append([operation, app, f"{count / 1e6:.2f}", share])
    header = ["operation", "app", "million instructions each", "minimal app's as a share"]
    return markdown_table(header, "llrr", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="operations between the two runs")
    parser.add_argument("--tree", type=Path, default=BENCH.parent, help="the checkout to measure")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"some of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    from machine import add_record_option, describe, record

    add_record_option(parser)
    args = parser.parse_args()
    if args.worker:
        tree, scenario, count, folder = args.worker
        worker(Path(tree), scenario, int(count), Path(folder))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind).")
    tree = args.tree.resolve()
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    figures = {s: per_operation(tree, s, args.runs) for s in args.scenarios.split(",")}
    text = (
        f"{describe(None, 'SQLite, in-process (test client)')}\n\n"
        f"Code at {commit or tree}; callgrind, two runs {args.runs} operations apart.\n\n"
        f"{table(figures)}"
    )
    print(text)
    if args.record:
        record(": instructions", text)


if __name__ == "__main__":
    main()
