"""A one-line progress bar: batches done, running loss, images/s, ETA.

On a terminal the line is redrawn in place (``\\r``) at most every 0.2 s;
into a file or a pipe, a new line is written every 10 s instead, so logs
stay readable.
"""
import sys
import time


class ProgressBar:
    """Redraws one line per update; prints a final line at close.

    >>> bar = ProgressBar(total=100, prefix="epoch 1")
    >>> bar.update(images=128, loss=0.5)   # once per batch
    >>> bar.close()

    `loss` may be a 0-d array on a GPU: it is only added up, and turned
    into a Python number when a line is drawn, so the bar does not make
    the program wait for the GPU after every batch.
    """

    def __init__(self, total, prefix="", stream=None, width=24,
                 min_interval=None):
        self.total, self.prefix, self.width = total, prefix, width
        self.stream = stream or sys.stderr
        is_terminal = getattr(self.stream, "isatty", lambda: False)()
        self.line_end = "" if is_terminal else "\n"
        self.line_start = "\r" if is_terminal else ""
        if min_interval is None:
            min_interval = 0.2 if is_terminal else 10.0
        self.min_interval = min_interval
        self.done = self.images = 0
        self.loss_sum = 0.0
        self.has_loss = False
        self.start = self.last_draw = time.perf_counter()

    @property
    def mean_loss(self):
        """The mean loss per image so far."""
        return float(self.loss_sum) / max(self.images, 1)

    @property
    def elapsed(self):
        return time.perf_counter() - self.start

    @property
    def images_per_second(self):
        return self.images / max(self.elapsed, 1e-9)

    def update(self, images, loss=None):
        """One batch of `images` images done, with its mean `loss`."""
        self.done += 1
        self.images += images
        if loss is not None:
            self.loss_sum = self.loss_sum + loss * images
            self.has_loss = True
        now = time.perf_counter()
        if now - self.last_draw >= self.min_interval:
            self.last_draw = now
            self._draw(end=self.line_end)

    def _draw(self, end, final=False):
        elapsed = self.elapsed
        fraction = self.done / max(self.total, 1)
        filled = int(self.width * fraction)
        bar = "#" * filled + "." * (self.width - filled)
        if final:
            timing = "in {}".format(_clock(elapsed))
        else:
            remaining = elapsed / max(self.done, 1) * (self.total - self.done)
            timing = "ETA {}".format(_clock(remaining))
        loss = " loss {:.4f}".format(self.mean_loss) if self.has_loss else ""
        line = "{}{} [{}] {}/{}{} {:.0f} img/s {}".format(
            self.line_start, self.prefix, bar, self.done, self.total, loss,
            self.images_per_second, timing)
        self.stream.write(line + end)
        self.stream.flush()

    def close(self):
        """Draw the final state of the bar and end its line."""
        self._draw(end="\n", final=True)


def _clock(seconds):
    seconds = int(seconds)
    return "{}:{:02d}".format(seconds // 60, seconds % 60)
