"""The mlops-platform CrossGuard policy pack.

Importing this package is cheap and side-effect free: the pack itself (``PolicyPack``,
which starts a gRPC server and blocks) is built only in ``__main__.py``, which the Pulumi
CLI runs for ``pulumi preview --policy-pack policies``. Offline evaluation without the
CLI lives in :mod:`policies.offline`; the policy list in :mod:`policies.registry`.
This package imports neither ``infra`` nor ``ml``.
"""
