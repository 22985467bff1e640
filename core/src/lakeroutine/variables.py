"""``${name}`` substitution in routine files.

``${name}`` takes a routine variable (``"vars"`` in the file, ``--var`` on the command
line, or a built-in: ``run_id``, ``run_date``, ``run_ts``, ``routine_name``,
``routine_dir``); ``${env:NAME}`` an environment variable (``${env:NAME:-default}`` with a
default); ``$${`` is a literal ``${``. A string that is exactly one ``${name}`` takes the
variable's JSON value (a number, list or object), any other string gets its text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from lakeroutine.redact import remember

_PATTERN = re.compile(r"\$(\$?)\{([^{}]*)\}")
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE", "ACCESS_KEY", "PASSWD")


class VariableError(ValueError):
    """A ``${...}`` reference that cannot be resolved."""


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS)


class Substituter:
    """Resolves references against routine variables and the environment, and remembers the
    values of secret-looking environment variables so they can be redacted."""

    def __init__(self, variables: Mapping[str, Any], env: Mapping[str, str] | None = None):
        self.variables = variables
        self.env = os.environ if env is None else env
        self.secrets: set[str] = set()

    def _lookup(self, reference: str) -> Any:
        ref = reference.strip()
        if ref.startswith("env:"):
            name, _, default = ref[4:].partition(":-")
            if name in self.env:
                value = self.env[name]
            elif ":-" in ref:
                value = default
            else:
                raise VariableError(f"environment variable {name!r} is not set")
            if looks_secret(name) and value:
                self.secrets.add(value)
                remember([value])  # masked wherever it turns up: a file's text, an error
            return value
        if ref not in self.variables:
            known = ", ".join(sorted(self.variables))
            raise VariableError(f"unknown variable ${{{ref}}} (known: {known})")
        return self.variables[ref]

    def substitute(self, value: Any) -> Any:
        """``value`` with every reference in its strings (recursively) resolved."""
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, dict):
            return {key: self.substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.substitute(item) for item in value]
        return value

    def _string(self, text: str) -> Any:
        if "$" not in text:
            return text
        whole = _PATTERN.fullmatch(text)
        if whole and not whole.group(1):
            return self._lookup(whole.group(2))

        def replace(match: re.Match[str]) -> str:
            if match.group(1):  # $${...} is literal
                return "${" + match.group(2) + "}"
            found = self._lookup(match.group(2))
            return found if isinstance(found, str) else json.dumps(found)

        return _PATTERN.sub(replace, text)


def resolve_variables(
    declared: Mapping[str, Any],
    overrides: Mapping[str, Any],
    builtins: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """The routine's variables and the secret values they read from the environment:
    built-ins, then the file's ``vars`` (which may refer to built-ins and earlier vars),
    then overrides (``--var``), which win."""
    resolved: dict[str, Any] = {**builtins, **overrides}
    secrets: set[str] = set()
    for name, value in declared.items():
        if name in overrides:
            continue
        substituter = Substituter(resolved, env)
        resolved[name] = substituter.substitute(value)
        secrets |= substituter.secrets
        if looks_secret(name) and isinstance(resolved[name], str) and resolved[name]:
            secrets.add(resolved[name])
    secrets |= {v for k, v in overrides.items() if looks_secret(k) and isinstance(v, str) and v}
    remember(secrets)
    return resolved, secrets
