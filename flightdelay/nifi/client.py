"""NiFi's REST API, logged in as the single user with a bearer token, verifying NiFi's certificate."""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import requests

from flightdelay.nifi.config import nifi_ca_file, nifi_secrets
from flightdelay.settings import Settings


class FlowError(RuntimeError):
    """NiFi refused a request, or a flow definition is invalid; the message says what."""


class NiFiClient:
    """NiFi's REST API with a bearer token from the single-user login; verifies NiFi's own certificate."""

    def __init__(self, base_url: str, user: str, password: str, ca_file: Path | str | bool, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.password = password
        self.verify = str(ca_file) if isinstance(ca_file, Path) else ca_file
        self.timeout = timeout
        self.session = requests.Session()
        # no cookies: with NiFi's session cookie present, its CSRF filter wants a Request-Token
        # header on every POST/PUT/DELETE; a bearer token alone needs none
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._token: str | None = None

    @classmethod
    def for_settings(cls, settings: Settings, timeout: float = 30) -> "NiFiClient":
        """The embedded NiFi, as its generated user, trusting its self-signed certificate."""
        password = nifi_secrets(settings)["password"]
        return cls(settings.nifi_url, settings.nifi_user, password, nifi_ca_file(settings), timeout)

    def login(self) -> str:
        reply = self.session.post(
            f"{self.base_url}/access/token",
            data={"username": self.user, "password": self.password},
            verify=self.verify,
            timeout=self.timeout,
        )
        if reply.status_code != 201:
            raise FlowError(f"NiFi login as {self.user} failed: HTTP {reply.status_code} {reply.text[:200]}")
        self._token = reply.text.strip()
        return self._token

    def request(self, method: str, path: str, *, body: Any = None, params: dict | None = None,
                expect: tuple[int, ...] = (200, 201)) -> Any:  # fmt: skip
        for attempt in (1, 2):
            if self._token is None:
                self.login()
            reply = self.session.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                verify=self.verify,
                timeout=self.timeout,
            )
            if reply.status_code == 401 and attempt == 1:
                self._token = None  # expired or NiFi restarted with new signing keys
                continue
            break
        if reply.status_code not in expect:
            raise FlowError(f"NiFi {method} {path}: HTTP {reply.status_code} {reply.text[:500]}")
        if not reply.content:
            return None
        try:
            return reply.json()
        except ValueError:
            return reply.text

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, **params) -> Any:
        return self.request("DELETE", path, params=params or None)
