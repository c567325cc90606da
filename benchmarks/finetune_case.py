"""The fine-tuning case: real training steps on an image folder, as the
README's one-epoch recipe runs them, in both frameworks.

What one timed run is: `STEPS_PER_RUN` consecutive steps of the recipe,
each taking the next batch from the loader (``next(batches)`` is inside the
timing, so a loader that cannot keep up shows) and doing forward,
cross-entropy, backward, SGD (momentum 0.9, Nesterov, weight decay 5e-4)
and the OneCycleLR step. The run's time is divided by the number of steps.

Both frameworks get exactly the same batches: the same folder, the same
seeded 45,000 / 5,000 split and batch order, and the same augmentation
(random crop with reflect padding 4, horizontal flip), all made by minidl's
DataLoader, as ``python -m minidl.finetune`` and
``benchmarks.finetune_torch_reference`` make them. Only the step is each
framework's own. On minidl's side it is the fine-tuning command's own step
(``minidl.training.loop.train_step``) with the command's optimizer and
schedule (``minidl.training.schedule``).

Two variants show what the data path costs:

* ``finetune_steps``: ``--num-workers 2`` (two threads make the next
  batches while the step runs), as the PyTorch reference runs, and the
  command on a GPU;
* ``finetune_steps_sync``: ``--num-workers 0`` (each batch is made in the
  loop, before its step), the command's default on the CPU.

The model's starting weights do not change the time of a step (the
products are dense), so both start from their framework's random
initialisation.
"""
import itertools

# name: (description, number of loader threads)
FINETUNE_CASES = {
    "finetune_steps": ("fine-tuning step of the README recipe on an image "
                       "folder, loader with 2 threads (per step)", 2),
    "finetune_steps_sync": ("the same, batches made in the loop "
                            "(--num-workers 0) (per step)", 0),
}
STEPS_PER_RUN = 8
BATCH_SIZE = 128
LR = 0.02
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# OneCycleLR needs its length; a long one never ends during a benchmark.
SCHEDULE_STEPS = 10 ** 6


def training_batches(data, num_workers, seed=0):
    """Endless (images, labels) batches of the recipe's training split of
    the image folder `data`, epoch after epoch, as minidl Tensors."""
    from minidl.data import DataLoader
    from minidl.training import data as data_setup
    dataset = data_setup.open_dataset(data)
    train_set, _ = data_setup.split_train_val(dataset, 0.1, seed)
    transform = data_setup.build_train_transform(
        MEAN, STD, data_setup.image_shape(train_set), crop_padding=4,
        crop_padding_mode="reflect", hflip=True)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True,
                        num_workers=num_workers, seed=seed, transform=transform)
    return itertools.chain.from_iterable(loader for _ in itertools.count())


def minidl_step():
    """The fine-tuning command's step: (images, labels) -> None."""
    from minidl import models
    from minidl.nn import functional as F
    from minidl.training import schedule
    from minidl.training.loop import train_step
    model = models.resnet20(num_classes=10)
    model.train()
    parameters = list(model.parameters())
    optimizer = schedule.build_optimizer("sgd", parameters, LR, momentum=0.9,
                                         nesterov=True, weight_decay=5e-4)
    scheduler = schedule.build_scheduler("onecycle", optimizer, 1,
                                         SCHEDULE_STEPS)

    def step(images, labels):
        train_step(model, images, labels, optimizer, F.cross_entropy,
                   parameters)
        scheduler.step()
    return step


def torch_step():
    """The same step in PyTorch (as benchmarks.finetune_torch_reference)."""
    import torch
    from minidl.testing import torch_cifar_resnet
    model = torch_cifar_resnet(torch, 20)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9,
                                nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LR, total_steps=SCHEDULE_STEPS)

    def step(images, labels):
        x = torch.from_numpy(images.numpy())
        y = torch.from_numpy(labels.numpy())
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    return step


def build_finetune(framework, name, device, data, case_type):
    """The Case `name` (a key of FINETUNE_CASES) for `framework`."""
    if data is None:
        raise ValueError(f"benchmark case {name} needs an image folder: pass "
                         "--data PATH (e.g. ../shared/data/cifar10-jpg/train)")
    if device != "cpu":
        raise ValueError(f"benchmark case {name} runs on the CPU only")
    _, num_workers = FINETUNE_CASES[name]
    batches = training_batches(data, num_workers)
    step = minidl_step() if framework == "minidl" else torch_step()

    def prepare():
        """One untimed step after the runner's pause, as the model cases'
        untimed run: the first step after an idle gap is slower."""
        step(*next(batches))

    def run():
        for _ in range(STEPS_PER_RUN):
            step(*next(batches))
    return case_type(run, prepare=prepare, steps=STEPS_PER_RUN)
