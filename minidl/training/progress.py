"""A one-line progress bar: batches done, running loss, images/s, ETA."""
import sys
import time


class ProgressBar:
    """Redraws one terminal line per update; prints a final line at close.

    >>> bar = ProgressBar(total=100, prefix="epoch 1")
    >>> bar.update(images=128, loss=0.5)   # once per batch
    >>> bar.close()
    """

    def __init__(self, total, prefix="", stream=None, width=24,
                 min_interval=0.2):
        self.total, self.prefix, self.width = total, prefix, width
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self.done = self.images = 0
        self.loss_sum = 0.0
        self.start = self.last_draw = time.perf_counter()

    @property
    def mean_loss(self):
        return self.loss_sum / max(self.done, 1)

    @property
    def images_per_second(self):
        return self.images / max(time.perf_counter() - self.start, 1e-9)

    def update(self, images, loss):
        self.done += 1
        self.images += images
        self.loss_sum += float(loss)
        now = time.perf_counter()
        if now - self.last_draw >= self.min_interval or self.done == self.total:
            self.last_draw = now
            self._draw(end="")

    def _draw(self, end):
        elapsed = time.perf_counter() - self.start
        fraction = self.done / max(self.total, 1)
        filled = int(self.width * fraction)
        bar = "#" * filled + "." * (self.width - filled)
        remaining = elapsed / max(self.done, 1) * (self.total - self.done)
        line = "\r{} [{}] {}/{} loss {:.4f} {:.0f} img/s ETA {}".format(
            self.prefix, bar, self.done, self.total, self.mean_loss,
            self.images_per_second, _clock(remaining))
        self.stream.write(line + end)
        self.stream.flush()

    def close(self):
        self._draw(end="\n")


def _clock(seconds):
    seconds = int(seconds)
    return "{}:{:02d}".format(seconds // 60, seconds % 60)
