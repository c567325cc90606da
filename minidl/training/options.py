"""Checks of the fine-tuning command's option values, as argparse ``type=``
functions: a bad value is refused while the command line is parsed, with
argparse's one-line ``error: argument --lr: ...``, before any file is
touched. Each returns the converted value (or raises
``argparse.ArgumentTypeError`` saying what was expected)."""
import argparse
import math


class UsageError(Exception):
    """A bad command line, or files and weights the command cannot use:
    ``finetune.main`` prints the message (one line) and exits with 1."""


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected {}, got {!r}".format(
                "an integer" if kind is int else "a number", text)) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"expected a finite number, got {text!r}")
    return value


def _checked(kind, test, expected):
    def convert(text):
        value = _number(text, kind)
        if not test(value):
            raise argparse.ArgumentTypeError(
                f"expected {expected}, got {text!r}")
        return value
    convert.__name__ = expected  # argparse names the type in some messages
    return convert


positive_float = _checked(float, lambda v: v > 0, "a positive number")
non_negative_float = _checked(float, lambda v: v >= 0, "a number >= 0")
positive_int = _checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
open_fraction = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")
fraction_below_one = _checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
momentum = _checked(float, lambda v: 0 <= v < 1, "a momentum in [0, 1)")
degrees = _checked(float, lambda v: 0 <= v <= 180,
                   "an angle in degrees in [0, 180]")


def freeze_rule(text):
    """``--freeze``: checked with :func:`freeze.parse_freeze`, kept as text."""
    from .freeze import parse_freeze
    try:
        parse_freeze(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text
