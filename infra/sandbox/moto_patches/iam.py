"""IAM gap fills for moto 5.2: the client IDs (audiences) of an OpenID Connect provider.

moto 5.2.5 keeps an OIDC provider's client ID list from CreateOpenIDConnectProvider but has
no `AddClientIDToOpenIDConnectProvider` or `RemoveClientIDFromOpenIDConnectProvider` (its
server answers 500 "action has not been implemented"); an OIDC provider's update calls them
when `clientIdLists` changes.

`install()` adds both as methods of moto's `IamResponse`; the list is moto's own
`OpenIDConnectProvider.client_id_list`, so GetOpenIDConnectProvider reports the change and
`POST /moto-api/reset` clears it.
"""

from __future__ import annotations

from collections.abc import Callable

from moto.core.responses import EmptyResult
from moto.iam.models import OpenIDConnectProvider
from moto.iam.responses import IamResponse


def _provider(response: IamResponse) -> OpenIDConnectProvider:
    # get_open_id_connect_provider raises IAM's NoSuchEntity for an unknown ARN, as AWS does.
    return response.backend.get_open_id_connect_provider(
        response._get_param("OpenIDConnectProviderArn")
    )


def add_client_id_to_open_id_connect_provider(self: IamResponse) -> EmptyResult:
    """AddClientIDToOpenIDConnectProvider: adding a client ID already listed does nothing."""
    provider = _provider(self)
    client_id = self._get_param("ClientID")
    if client_id not in provider.client_id_list:
        provider.client_id_list.append(client_id)
    return EmptyResult()


def remove_client_id_from_open_id_connect_provider(self: IamResponse) -> EmptyResult:
    """RemoveClientIDFromOpenIDConnectProvider: removing one not listed does nothing."""
    provider = _provider(self)
    client_id = self._get_param("ClientID")
    provider.client_id_list = [c for c in provider.client_id_list if c != client_id]
    return EmptyResult()


_RESPONSE_METHODS: dict[str, Callable[[IamResponse], EmptyResult]] = {
    "add_client_id_to_open_id_connect_provider": add_client_id_to_open_id_connect_provider,
    "remove_client_id_from_open_id_connect_provider": (
        remove_client_id_from_open_id_connect_provider
    ),
}


def install() -> list[str]:
    """Add the fills to moto's IAM handler (idempotent); return the operation names."""
    for name, method in _RESPONSE_METHODS.items():
        setattr(IamResponse, name, method)
    return [f"iam:{name}" for name in sorted(_RESPONSE_METHODS)]
