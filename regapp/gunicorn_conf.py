"""gunicorn settings for production serving: ``make serve``, or
``gunicorn --config regapp/gunicorn_conf.py`` from the repository root.

Environment (besides every ``REGAPP_*`` setting of the app itself):

``HOST``, ``PORT``
    Where to listen; ``127.0.0.1:5000`` by default. ``HOST=0.0.0.0`` behind a load balancer on
    another machine.
``REGAPP_WORKERS`` (or the conventional ``WEB_CONCURRENCY``)
    Server processes; by default one per core plus one.
``REGAPP_THREADS``
    Request threads per process; 2 by default. More where the database is on another machine,
    whose round trips are longer waits to cover.
``REGAPP_GRACEFUL_TIMEOUT``
    Seconds a stopping or restarting worker has to finish the requests it holds; 30.
``REGAPP_ACCESS_LOG``
    ``-`` (standard output, the default), a file, or empty for none.
``REGAPP_REUSE_PORT``
    ``true`` (the default): each worker listens on a socket of its own (``SO_REUSEPORT``);
    ``false``: the workers share the master's one socket.

Why these choices:

- **Processes** give parallelism past Python's GIL: one per core keeps every core busy; the
  extra one covers a process that is collecting garbage or waiting on the disk.
- **Threads** (the ``gthread`` worker) cover the waits: most of a request's time outside
  Python is spent waiting for the database (a SQLite writer queues for the write lock, a
  PostgreSQL transaction for a row lock) or for a slow client. A second thread keeps the core
  busy meanwhile, with far less memory than more processes. More threads than two did worse on
  the 2-core machine with the database beside the app: they take turns at the GIL, so each
  request waits longer between its round trips. Measured in pairs (bench/README.md, "Serving,
  session 13"): at 32 door scanners on PostgreSQL, 3 x 2 threads gave a lower p99 than 3 x 4
  in 6 of 6 pairs (66-91 against 91-114 ms), and as many registrations or more in 4 of 4; 3 x 8
  was worst (p99 153-198 ms). An async worker (gevent) would not help: SQLite's C calls and
  psycopg's blocking calls stall its event loop. Each process's connection pool (5 + 10
  overflow) is larger than its threads plus its outbox sender.
- The app is **not preloaded** in the master: every worker builds its own app, engine and pool
  after the fork, so no database connection or thread is ever shared across processes. The
  outbox sender thread starts with each worker's first request; every worker runs one, and they
  share the work safely because a sender claims each message with a conditional UPDATE and a
  lease (see ``regapp/mail/outbox.py``).
- **A socket per worker** (``SO_REUSEPORT``): with one shared socket, whichever worker is
  awake first accepts the next connection, and a keep-alive connection (a door scanner, a load
  balancer) stays with that worker. Measured under a door rush, 32 scanners' connections fell
  0 / 8 / 24 on the three workers, and a Python process never uses more than a core, so the
  scanners on the busiest worker waited longest. With a socket per worker the kernel spreads
  new connections evenly (9 / 9 / 14 in the same run), and the p99 at 32 scanners fell by a
  fifth to a quarter (bench/README.md). What it costs: connections still queued on a worker's
  socket when that worker stops (a restart, a crash) are reset, where a shared socket would
  hand them to another worker (Linux can migrate them: ``sysctl net.ipv4.tcp_migrate_req=1``);
  and a second server started by mistake on the same port shares it instead of failing to
  start (this user's processes only).
- **A fair share of the connections per worker**: the kernel hashes each new connection to a
  socket at random, so 32 scanners can still fall 4 / 11 / 17, and the doors on the worker
  with 17 waited four times as long as those on the worker with 4, for the whole rush. Each
  worker writes how many connections it holds into shared memory before each request; one
  holding more than its share of them all answers with ``Connection: close``, and the client's
  next connection is hashed again. Measured (bench/README.md, "Check-in, session 13"): at 32
  scanners the fastest and slowest doors' mean waits differed by 4-13 ms instead of 5-43 ms.
  Clients reconnect only while the shares are uneven. A worker's count is written when it
  answers, so one that answers nothing for a while counts with its last figure.
- **Graceful timeout**: on SIGTERM (or SIGHUP for a reload) a worker stops accepting and finishes
  what it holds. A request waits at most ``REGAPP_DATABASE_LOCK_TIMEOUT`` for the database before
  it is answered 503, so the default 30 s is ample. ``timeout`` (a worker that stops
  answering its heartbeat is killed and replaced) stays at gunicorn's 30 s.
"""

import gc
import math
import os
from multiprocessing.sharedctypes import RawArray


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


wsgi_app = "regapp:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("REGAPP_WORKERS") or os.environ.get("WEB_CONCURRENCY") or _cores() + 1)
worker_class = "gthread"
threads = int(os.environ.get("REGAPP_THREADS") or 2)
graceful_timeout = int(os.environ.get("REGAPP_GRACEFUL_TIMEOUT") or 30)
timeout = 30
keepalive = 5  # seconds an idle keep-alive connection (from a load balancer) stays open
reuse_port = os.environ.get("REGAPP_REUSE_PORT", "true").strip().lower() not in ("0", "false", "no")
preload_app = False
# gunicorn 25+ opens a control socket at one fixed path per user, which two instances on one
# machine would fight over; nothing here uses it.
control_socket_disable = True
accesslog = os.environ.get("REGAPP_ACCESS_LOG", "-") or None
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # the workers' heartbeat files: never wait on a busy disk


def when_ready(server) -> None:
    """Say how the app is served, and warn when the rate limits count per worker."""
    server.log.info("regapp: %d workers x %d threads on %s", workers, threads, bind)
    redis_url = os.environ.get("REGAPP_REDIS_URL", "")
    storage = redis_url or os.environ.get("REGAPP_RATELIMIT_STORAGE_URI", "memory://")
    if workers > 1 and storage.startswith("memory"):
        server.log.warning(
            "Rate limits are counted in memory by each of the %d workers, so each limit is "
            "in effect %d times higher. Set REGAPP_REDIS_URL (redis://host:6379/0) to share "
            "one count between workers and machines.",
            workers,
            workers,
        )


def post_worker_init(worker) -> None:
    """Keep what the app built at start-up (modules, templates, mappers) out of the garbage
    collector's full passes: measured under load, a full pass over them held a worker's
    requests for 75 to 200 ms; after this, none did."""
    gc.collect()
    gc.freeze()


#: How many connections each worker holds, in a slot of its own: shared memory made in the
#: master, before the workers are forked, so that every worker reads every other's.
_connections = RawArray("i", 64)
_slots_taken: set[int] = set()  # the master's record of the slots of its live workers


def pre_fork(server, worker) -> None:
    """In the master: give the new worker a free slot (none past 64 live workers: such a worker
    keeps every connection it gets)."""
    worker.slot = next((i for i in range(len(_connections)) if i not in _slots_taken), None)
    if worker.slot is not None:
        _slots_taken.add(worker.slot)
        _connections[worker.slot] = 0


def child_exit(server, worker) -> None:
    """In the master: free the slot of a worker that stopped."""
    if worker.slot is not None:
        _slots_taken.discard(worker.slot)
        _connections[worker.slot] = 0


def pre_request(worker, req) -> None:
    """Close the connection after this answer when the worker holds more than its share of all
    the workers' connections: the client's next connection is hashed to a socket again."""
    held = getattr(worker, "nr_conns", None)  # gthread's count; a sync worker closes them all
    if held is None or worker.slot is None:
        return
    _connections[worker.slot] = held
    if held > math.ceil(sum(_connections) / worker.cfg.workers):
        req.must_close = True
