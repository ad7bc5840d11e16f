"""
Optuna storages shared by several processes or machines, as rl-zoo names them with ``--storage``: a path ending in
``.log`` is a journal file, anything else a database URL (``postgresql://user@host/db``, ``mysql+pymysql://...``,
``sqlite:///file.db``).

Two things Optuna leaves to its user are done here, for the grid (``compare --storage``) and for rl-zoo's tuning
(``train -optimize --storage``):

- a URL whose database driver is not installed stops at once with one line naming the extra to install
  (:func:`check_storage_url`), instead of a traceback from inside SQLAlchemy;
- workers started at the same moment on an empty database all start (:func:`open_storage`): Optuna creates its
  tables on first use, and two processes creating them at once collide (PostgreSQL: ``UniqueViolation`` on
  ``CREATE TYPE studydirection``); the loser retries, and finds the tables made.
"""

from __future__ import annotations

import random
import time
import warnings
from typing import Any

# The extra that brings the PostgreSQL driver (psycopg 3, what SQLAlchemy 2 uses for ``postgresql://``)
DRIVER_EXTRA = "cluster"
# Attempts at opening a database whose tables another process may be creating at the same moment
OPEN_ATTEMPTS = 8


class StorageError(ValueError):
    """A ``--storage`` value that cannot be used (reported before anything starts)."""


def is_journal(url: str) -> bool:
    """rl-zoo's rule: a ``--storage`` ending in ``.log`` is an Optuna journal file."""
    return url.endswith(".log")


def redact(url: str) -> str:
    """The URL with its password hidden (for messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def check_storage_url(url: str) -> None:
    """
    Check that a ``--storage`` value can be opened here: a journal file path, or a database URL whose SQLAlchemy
    dialect and driver are installed.

    :param url: The ``--storage`` value
    :raises StorageError: naming the URL, the missing driver and the extra (or pip package) that brings it
    """
    if is_journal(url):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise StorageError(
            f"--storage {url!r} is neither a journal file (a path ending in .log) nor a database URL "
            f"such as postgresql://user@host/db ({e})"
        ) from e
    try:
        dialect.import_dbapi()
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        extra = f'pip install "sb3-reinforce[{DRIVER_EXTRA}]"'
        if parsed.drivername in ("postgresql", "postgresql+psycopg"):
            hint = extra
        else:
            hint = f"install the package that provides {missing!r} (postgresql:// URLs use psycopg, which comes with: {extra})"
        raise StorageError(
            f"--storage {redact(url)} needs the database driver {parsed.drivername!r} (missing: {missing}): {hint}"
        ) from e


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    heartbeat_stale_trial_callback: Any = None,
) -> Any:
    """
    Open an Optuna storage that other processes may be opening at the same moment.

    :param url: A journal file path (``*.log``) or a database URL
    :param heartbeat_interval: Seconds between the heartbeats Optuna records for a running trial (databases only;
        None: no heartbeats)
    :param grace_period: Seconds without a heartbeat after which Optuna fails a running trial
    :param heartbeat_stale_trial_callback: Called by Optuna on each trial it failed for missing heartbeats
    :return: An ``optuna.storages.JournalStorage`` or ``optuna.storages.RDBStorage``
    :raises StorageError: a URL that cannot be used (see :func:`check_storage_url`)
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    check_storage_url(url)
    if is_journal(url):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are an experimental argument of RDBStorage
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=heartbeat_stale_trial_callback,
                )
        except SQLAlchemyError as e:  # another process is creating the tables: they exist once it is done
            if attempt == OPEN_ATTEMPTS - 1:
                raise StorageError(
                    f"--storage {redact(url)}: cannot open the database ({getattr(e, 'orig', None) or e})"
                ) from e
            time.sleep(0.2 * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")
