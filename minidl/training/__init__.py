"""Pieces of a training run; the fine-tuning command (:mod:`minidl.finetune`)
puts them together, one job per module:

* ``pretrained``: ``--weights`` -> a converted ``.npz`` (published names,
  cache, SHA-256, conversion of PyTorch checkpoints);
* ``data``: open an image folder or CIFAR-10, split it, build transforms;
* ``freeze``: ``--freeze`` rules and the optimizer's parameter groups;
* ``schedule``: the optimizer and the per-batch learning-rate schedule;
* ``loop``: one training epoch, evaluation, FGSM adversarial examples;
* ``early_stopping``: the best epoch and ``--patience``;
* ``checkpoint``: ``last.npz``, ``best.npz``, ``model.npz``, resuming;
* ``history``, ``plotting``, ``progress``, ``metrics``: the JSON-lines log,
  the curves, the progress bar, accuracy and confusion matrices;
* ``inference``: rebuild a model from a file, for evaluate and predict;
* ``options``: the option checks (argparse types) and UsageError;
* ``starting_model``: the model a run starts from (``--weights``, resume);
* ``run_files``: the ``--out`` folder: its lock, which file is the record,
  a kill's temporary files, refusing to overwrite an earlier run;
* ``signals``: Ctrl-C and SIGTERM stop the run between two steps;
* ``tensorboard``: ``--tensorboard`` event files (optional tensorboardX).
"""
