"""Ctrl-C (SIGINT) and SIGTERM during a run: stop between two steps.

A signal that arrives while a step runs must not cut it in half: the model,
the optimizer and the scheduler would disagree. :class:`StopRequests`
replaces the two handlers while a run lasts. While ``deferring`` (the
training steps and the saves), a signal only records itself in
:attr:`signal_number`; the loop looks after each step and, when it is set,
saves a checkpoint and stops. Otherwise (evaluation, setting up), or when a
second signal arrives, it raises KeyboardInterrupt at once, as Python's own
Ctrl-C handler does. SIGTERM (what ``kill``, ``timeout`` and job schedulers
send) is handled exactly like SIGINT.
"""
import signal
import threading

NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}


class StopRequests:
    """``with StopRequests() as stops:`` ... ``stops.deferring = True`` ...
    ``if stops.signal_number: ...``. Outside the main thread it installs
    nothing (Python delivers signals to the main thread only)."""

    def __init__(self):
        self.signal_number = None
        self.deferring = False
        self._previous = {}

    @property
    def requested(self):
        return self.signal_number is not None

    @property
    def exit_status(self):
        """128 + the signal's number, the shell's convention (130, 143)."""
        return 128 + int(self.signal_number or signal.SIGINT)

    def _handle(self, number, frame):
        first = self.signal_number is None
        self.signal_number = self.signal_number or number
        if not (self.deferring and first):
            raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in NAMES:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
        return False
