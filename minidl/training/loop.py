"""One epoch of training, one pass of evaluation, and FGSM adversarial
examples.

Speed notes, as they matter for tens of thousands of images per epoch:
running sums (loss, correct predictions) stay arrays on the model's device
and become Python numbers once per epoch, so a GPU is never made to wait
after a batch; evaluation runs under ``no_grad`` (no graph is recorded) in
eval mode; no batch is copied beyond what the DataLoader hands over.
"""
import time

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor
from .freeze import set_train_mode
from .metrics import confusion_matrix
from .progress import ProgressBar


class EpochResult:
    """What one training epoch measured."""

    def __init__(self, loss, accuracy, images, batches, seconds):
        self.loss, self.accuracy = loss, accuracy
        self.images, self.batches, self.seconds = images, batches, seconds

    @property
    def images_per_second(self):
        return self.images / max(self.seconds, 1e-9)


class EvalResult:
    """Mean loss, accuracy and confusion matrix of one evaluation."""

    def __init__(self, loss, accuracy, confusion, seconds):
        self.loss, self.accuracy = loss, accuracy
        self.confusion, self.seconds = confusion, seconds


class FGSM:
    """Adversarial training with the fast gradient sign method (Goodfellow et
    al., 2015), mixed half and half with clean examples.

    For a batch x (normalised as the model expects) with labels y:

        x_adv = clip(x + eps / std * sign(d loss(x, y) / dx))
        training loss = 0.5 * loss(x, y) + 0.5 * loss(x_adv, y)

    `eps` is in PIXEL units of [0, 1] images (8/255 = 0.031 is common):
    since x = (pixel - mean) / std, a pixel step of eps is a step of
    eps / std[c] in channel c of the normalised input, and the clip keeps
    x_adv the normalisation of pixels inside [0, 1].
    """

    clean_weight = 0.5

    def __init__(self, eps, mean, std):
        if eps <= 0:
            raise ValueError("--adv-eps must be positive, got {}".format(eps))
        self.eps = float(eps)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)

    def _constants(self, xp):
        """(step, low, high) per channel, (1, C, 1, 1) arrays on xp's device."""
        step = xp.asarray(self.eps / self.std)
        low = xp.asarray((0 - self.mean) / self.std)
        high = xp.asarray((1 - self.mean) / self.std)
        return step, low, high

    def forward_backward(self, model, images, labels, loss_fn):
        """Fill the parameters' gradients for the mixed loss. Returns (clean
        logits, mixed loss) for the running statistics."""
        images.requires_grad_(True)
        logits = model(images)
        clean_loss = loss_fn(logits, labels) * self.clean_weight
        # One backward gives the parameters their clean-loss gradient and
        # the input its gradient (its sign is all FGSM needs).
        clean_loss.backward()
        xp = backend.get_array_module(images.data)
        step, low, high = self._constants(xp)
        perturbed = images.data + step * xp.sign(images.grad.data)
        perturbed = xp.minimum(xp.maximum(perturbed, low), high)
        adversarial_loss = loss_fn(model(Tensor(perturbed)), labels) * \
            (1 - self.clean_weight)
        adversarial_loss.backward()  # adds to the parameters' gradients
        images.requires_grad_(False)
        return logits, clean_loss.data + adversarial_loss.data


class EpochProgress:
    """Where a training epoch stands: `batches` done, and the running sums
    of the epoch so far (`loss_sum` over images, `correct`, `seen` images,
    training `seconds` before this session). A checkpoint taken between two
    steps stores it (:meth:`state_dict`), so the resumed epoch goes on from
    the next batch with the same sums."""

    def __init__(self, epoch, batches=0, loss_sum=0.0, correct=0, seen=0,
                 seconds=0.0):
        self.epoch, self.batches = int(epoch), int(batches)
        self.loss_sum, self.correct, self.seen = loss_sum, correct, int(seen)
        self.seconds = float(seconds)
        self.started = time.perf_counter()

    @property
    def elapsed(self):
        """Training seconds of the epoch, this session included."""
        return self.seconds + time.perf_counter() - self.started

    @property
    def mean_loss(self):
        return float(self.loss_sum) / max(self.seen, 1)

    def state_dict(self):
        return {"epoch": self.epoch, "batch": self.batches,
                "loss_sum": float(self.loss_sum), "correct": int(self.correct),
                "seen": self.seen, "seconds": self.elapsed}

    @classmethod
    def from_state(cls, state):
        return cls(state["epoch"], state["batch"], float(state["loss_sum"]),
                   int(state["correct"]), state["seen"], state["seconds"])


def train_one_epoch(model, loader, optimizer, loss_fn, scheduler=None,
                    frozen_norms=(), grad_clip=None, adversary=None,
                    max_batches=None, prefix="train", progress=None,
                    after_step=None):
    """Train over the loader once (at most `max_batches` batches), stepping
    the scheduler after each batch. Returns an EpochResult.

    `progress`: an EpochProgress to go on from (resuming in the middle of
    an epoch: its first `progress.batches` batches are made again but not
    trained on, so every later batch is the one of an uninterrupted run);
    it is updated after every step. `after_step(progress, loss, lr,
    images)`, if given, is called after every step (`loss`: the batch's
    mean loss, an array on the model's device; `lr`: the first group's
    learning rate during the step); it may raise to stop the epoch.
    """
    set_train_mode(model, frozen_norms)
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    total = len(loader) if max_batches is None else min(len(loader), max_batches)
    progress = progress or EpochProgress(epoch=0)
    progress.started = time.perf_counter()  # this session's clock starts now
    bar = ProgressBar(total, prefix=prefix)
    bar.done = progress.batches
    if progress.batches < total:
        batches = iter(loader)
        try:
            for index, (images, labels) in enumerate(batches):
                if index >= total:
                    break
                if index < progress.batches:
                    continue  # trained on before the checkpoint
                lr = optimizer.param_groups[0]["lr"]
                loss_value, logits = train_step(model, images, labels,
                                                optimizer, loss_fn, trainable,
                                                grad_clip, adversary)
                if scheduler is not None:
                    scheduler.step()
                xp = backend.get_array_module(logits.data)
                count = labels.shape[0]
                progress.loss_sum = progress.loss_sum + \
                    loss_value.astype(np.float64) * count
                progress.correct = progress.correct + \
                    (xp.argmax(logits.data, axis=1) == labels.data).sum()
                progress.seen += count
                progress.batches = index + 1
                bar.update(count, loss_value)
                if after_step is not None:
                    after_step(progress, loss_value, lr, count)
        finally:
            batches.close()
    bar.close()
    return EpochResult(loss=progress.mean_loss,
                       accuracy=int(progress.correct) / max(progress.seen, 1),
                       images=progress.seen, batches=progress.batches,
                       seconds=progress.elapsed)


def train_step(model, images, labels, optimizer, loss_fn, trainable,
               grad_clip=None, adversary=None):
    """One optimisation step (zero the gradients, forward, loss, backward,
    optional clipping, optimizer step). Returns (mean loss array, logits)."""
    optimizer.zero_grad(set_to_none=True)
    if adversary is None:
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        loss_value = loss.data
    else:
        logits, loss_value = adversary.forward_backward(model, images, labels,
                                                        loss_fn)
    if grad_clip:
        clip_grad_norm_(trainable, grad_clip)
    optimizer.step()
    return loss_value, logits


def all_finite(model):
    """True when every parameter and buffer of `model` is finite."""
    for value in model.state_dict().values():
        data = value.data
        xp = backend.get_array_module(data)
        if data.dtype.kind == "f" and not bool(xp.isfinite(data).all()):
            return False
    return True


def predict(model, loader, prefix="eval"):
    """(logits-derived predictions, labels, summed cross-entropy) over the
    loader, in eval mode without a graph. Arrays come back on the CPU."""
    model.eval()
    bar = ProgressBar(len(loader), prefix=prefix)
    predictions, labels_seen = [], []
    loss_sum = 0.0
    with no_grad():
        for images, labels in loader:
            logits = model(images)
            xp = backend.get_array_module(logits.data)
            loss_sum = loss_sum + F.cross_entropy(
                logits, labels, reduction="sum").data.astype(np.float64)
            predictions.append(xp.argmax(logits.data, axis=1))
            labels_seen.append(labels.data)
            bar.update(labels.shape[0])
    bar.close()
    if not predictions:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    xp = backend.get_array_module(predictions[0])
    return (backend.to_numpy(xp.concatenate(predictions)),
            backend.to_numpy(xp.concatenate(labels_seen)), float(loss_sum))


def evaluate(model, loader, num_classes, prefix="eval"):
    """Mean cross-entropy, accuracy and confusion matrix on the loader."""
    start = time.perf_counter()
    predictions, labels, loss_sum = predict(model, loader, prefix)
    count = max(len(labels), 1)
    confusion = confusion_matrix(predictions, labels, num_classes)
    return EvalResult(loss=loss_sum / count,
                      accuracy=float((predictions == labels).sum()) / count,
                      confusion=confusion,
                      seconds=time.perf_counter() - start)
