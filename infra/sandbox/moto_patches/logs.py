"""CloudWatch Logs gap fills for moto 5.2: changing the KMS key of an existing log group.

moto 5.2.5 stores the `kmsKeyId` given to CreateLogGroup (and DescribeLogGroups reports
it), but has no `AssociateKmsKey` or `DisassociateKmsKey`: its server answers 500 "action
has not been implemented". A log group's update calls them when its key changes.

`install()` adds both as methods of moto's `LogsResponse`, the per-request handler its
server dispatches to by action name; nothing in site-packages is edited. The key is kept on
moto's own `LogGroup.kms_key_id`, so `POST /moto-api/reset` clears it with the group.
"""

from __future__ import annotations

from collections.abc import Callable

from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import LogGroup
from moto.logs.responses import LogsResponse


def _group(response: LogsResponse) -> LogGroup:
    """The log group a request names, by `logGroupName` (what the toolkit sends)."""
    name = response._get_param("logGroupName")
    group = response.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return group


def associate_kms_key(self: LogsResponse) -> str:
    """AssociateKmsKey: new data in the group is encrypted with this key from now on."""
    _group(self).kms_key_id = self._get_param("kmsKeyId")
    return ""


def disassociate_kms_key(self: LogsResponse) -> str:
    """DisassociateKmsKey: the group goes back to CloudWatch Logs' own encryption."""
    _group(self).kms_key_id = None
    return ""


_RESPONSE_METHODS: dict[str, Callable[[LogsResponse], str]] = {
    "associate_kms_key": associate_kms_key,
    "disassociate_kms_key": disassociate_kms_key,
}


def install() -> list[str]:
    """Add the fills to moto's Logs handler (idempotent); return the operation names."""
    for name, method in _RESPONSE_METHODS.items():
        setattr(LogsResponse, name, method)
    return [f"logs:{name}" for name in sorted(_RESPONSE_METHODS)]
