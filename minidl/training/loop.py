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


def train_one_epoch(model, loader, optimizer, loss_fn, scheduler=None,
                    frozen_norms=(), grad_clip=None, adversary=None,
                    max_batches=None, prefix="train"):
    """Train over the loader once (at most `max_batches` batches), stepping
    the scheduler after each batch. Returns an EpochResult."""
    set_train_mode(model, frozen_norms)
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    total = len(loader) if max_batches is None else min(len(loader), max_batches)
    bar = ProgressBar(total, prefix=prefix)
    loss_sum = 0.0  # becomes an array on the model's device
    correct = 0
    seen = 0
    for index, (images, labels) in enumerate(loader):
        if index >= total:
            break
        optimizer.zero_grad(set_to_none=True)
        if adversary is None:
            logits = model(images)
            loss = loss_fn(logits, labels)
            loss.backward()
            loss_value = loss.data
        else:
            logits, loss_value = adversary.forward_backward(model, images,
                                                            labels, loss_fn)
        if grad_clip:
            clip_grad_norm_(trainable, grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        xp = backend.get_array_module(logits.data)
        count = labels.shape[0]
        loss_sum = loss_sum + loss_value.astype(np.float64) * count
        correct = correct + (xp.argmax(logits.data, axis=1) == labels.data).sum()
        seen += count
        bar.update(count, loss_value)
    bar.close()
    return EpochResult(loss=float(loss_sum) / max(seen, 1),
                       accuracy=int(correct) / max(seen, 1), images=seen,
                       batches=bar.done, seconds=bar.elapsed)


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
