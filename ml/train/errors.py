"""Typed errors of ``ml.train``: each says what is wrong, where, and how to fix it.

The CLI maps ``TrainingInputError`` to exit code 2 (bad input: nothing was submitted or
uploaded) and ``TrainingJobFailed`` to exit code 1 (the job ran and failed).
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base class of every error raised by ``ml.train``."""


class TrainingInputError(TrainingError, ValueError):
    """Hyperparameters, data, instance type or stack settings the job cannot run with."""


class TrainingJobFailed(TrainingError, RuntimeError):
    """The training job ran and did not complete; the message carries its failure reason."""
