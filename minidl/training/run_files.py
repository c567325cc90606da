"""The output folder of a fine-tuning run (``--out``) and the rules that keep
its files truthful.

What a run writes there:

* ``last.npz``: the whole training state (see :mod:`.checkpoint`), saved
  after the evaluation of the starting weights (epoch 0), after every
  epoch, every ``--checkpoint-every`` steps and on Ctrl-C / SIGTERM. It
  also holds the best weights so far, so it is **the record of the run**:
  each save is one atomic rename of this file;
* ``best.npz``: the best weights so far (a weights file), ``model.npz``:
  the best weights at the end, ``report.json`` / ``report.txt``: the final
  report. These are *derived* from ``last.npz``: each carries the
  ``epoch`` and ``step`` of the ``last.npz`` it was made from
  (``saved_at``) and is rewritten after it; when a kill falls between the
  two renames, the next run (``--resume``) finds ``best.npz`` not matching
  ``last.npz`` and writes it again from ``last.npz`` before anything else,
  and ``model.npz`` / the reports are always rewritten at the end;
* ``log.jsonl`` and ``curves.png``: rewritten from ``last.npz`` when
  resuming, so they hold exactly the recorded steps and epochs;
* ``.lock``: held (``fcntl.flock``) while a run uses the folder, with the
  process id inside; the operating system releases it when the process
  ends, however it ends, so a killed run never blocks the next one.

:class:`RunFolder` takes the lock, removes temporary files left by a kill
during a save, and refuses a fresh run into a folder that holds one.
"""
import errno
import fcntl
import os
import signal

from ..serialization import atomic_write

RUN_FILES = ("last.npz", "best.npz", "model.npz", "log.jsonl", "curves.png",
             "report.json", "report.txt")
# A file from these means a run happened here (a fresh run must not reuse it).
RECORD_FILES = ("last.npz", "best.npz", "model.npz")
LOCK_NAME = ".lock"
# Test hook: MINIDL_FINETUNE_KILL_AFTER=last.npz@2 SIGKILLs the process
# right after last.npz is renamed into place for the 2nd time (@1 if left
# out), so the tests can kill between two renames.
KILL_HOOK = "MINIDL_FINETUNE_KILL_AFTER"
_times_written = {}


class RunFolderError(Exception):
    """The output folder cannot be used; the message says why, in one line."""


def written(name):
    """Called after each file of the run is renamed into place (test hook)."""
    _times_written[name] = _times_written.get(name, 0) + 1
    target, _, count = os.environ.get(KILL_HOOK, "").partition("@")
    if target == name and _times_written[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def describe_os_error(path, error):
    """One line for an OSError on `path` (no traceback)."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = f"the disk is full ({reason})"
    return f"--out {path}: {reason}"


def is_temporary(name):
    """The temporary names of an interrupted save: ``.NAME.XXXX.tmp`` (see
    ``serialization.atomic_write``) and ``curves.png.tmp.png``."""
    return (name.startswith(".") and name.endswith(".tmp")) or \
        name.endswith(".tmp.png")


class RunFolder:
    """``--out`` while a run uses it: ``with RunFolder(path) as folder:``.

    Entering creates the folder, takes its lock (RunFolderError naming the
    process that holds it), and removes the temporary files a killed save
    left behind. :meth:`check_fresh` refuses a fresh run into a folder that
    holds one, unless overwriting.
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        self._lock_file = None
        self.removed_temporaries = []

    def file(self, name):
        return os.path.join(self.path, name)

    def __enter__(self):
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunFolderError(f"--out {self.path}: is a file, not a folder")
        try:
            os.makedirs(self.path, exist_ok=True)
            handle = open(self.file(LOCK_NAME), "a+")
        except OSError as error:
            raise RunFolderError(describe_os_error(self.path, error)) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderError(
                f"--out {self.path} is in use by process {holder} (another "
                "fine-tuning run); wait for it to end or choose another --out") \
                from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        self.removed_temporaries = self._remove_temporaries()
        return self

    def __exit__(self, *exc_info):
        handle, self._lock_file = self._lock_file, None
        if handle is not None:
            handle.close()  # closing releases the flock
        return False

    def _remove_temporaries(self):
        removed = []
        for entry in os.scandir(self.path):
            if entry.is_file() and is_temporary(entry.name):
                os.remove(entry.path)
                removed.append(entry.name)
        return removed

    def existing_run(self):
        """The names of the files of an earlier run in the folder."""
        return [name for name in RECORD_FILES
                if os.path.isfile(self.file(name))]

    def check_fresh(self, overwrite):
        """For a run without --resume: refuse (RunFolderError) when the
        folder holds an earlier run, or with `overwrite` delete its files."""
        found = self.existing_run()
        if not found:
            return
        if not overwrite:
            raise RunFolderError(
                "--out {} already holds a run ({}); continue it with --resume, "
                "or replace it with --overwrite (deletes its files)".format(
                    self.path, ", ".join(found)))
        for name in RUN_FILES:
            if os.path.isfile(self.file(name)):
                os.remove(self.file(name))


def write_text(path, text):
    """Write a text file of the run atomically (a temporary name, then a
    rename)."""
    atomic_write(path, lambda handle: handle.write(text.encode()))
    written(os.path.basename(path))
