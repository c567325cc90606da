"""Pieces of a training run: progress bar, metrics, plots, checkpoints.

The fine-tuning command (:mod:`minidl.finetune`) puts them together.
"""
