"""The plugin documentation keeps up with the code: every hook spec has a docstring and a row
in CONTRIBUTING.md with its real arguments, and every code snippet there is copied from the
example plugin (examples/plugin-hello) word for word."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest
from lakeroutine import hookspecs

REPO = Path(__file__).resolve().parents[1]
CONTRIBUTING = REPO / "CONTRIBUTING.md"
EXAMPLE = REPO / "examples" / "plugin-hello"
SNIPPET = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HOOK_ROW = re.compile(r"^\| `(\w+)\(([^)]*)\)` \|", re.MULTILINE)


def hook_specs() -> dict[str, inspect.Signature]:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    return {
        name: inspect.signature(getattr(hookspecs, name))
        for name in dir(hookspecs)
        if manager.parse_hookspec_opts(hookspecs, name) is not None
    }


def test_the_hookspecs_module_defines_the_hooks_we_expect() -> None:
    # guards the two tests below against finding no hooks at all
    assert {"register_executors", "register_tasks", "task_failed"} <= set(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc.split()) >= 5, f"hook {name} needs a docstring saying what it is for"


def test_every_hook_is_in_contributing_with_its_arguments() -> None:
    documented = {name: args for name, args in HOOK_ROW.findall(CONTRIBUTING.read_text())}
    specs = hook_specs()

    assert set(documented) == set(specs), "the hook table of CONTRIBUTING.md is out of date"
    for name, signature in specs.items():
        written = [arg.split("=")[0].strip() for arg in documented[name].split(",")]
        assert written == list(signature.parameters), f"CONTRIBUTING.md: arguments of {name}"


FILE_BLOCK = re.compile(r"^File `[^`]+`[^\n]*:\n\n```\w*\n.*?^```$", re.MULTILINE | re.DOTALL)
ELISION = re.compile(r"^# \.\.\.\n", re.MULTILINE)


def contributing_snippets() -> list[tuple[str, str]]:
    """The snippets taken from the example plugin: every python and toml block but the
    whole files of the complete plugin (tests/test_contributing_plugin.py builds those)."""
    text = FILE_BLOCK.sub("", CONTRIBUTING.read_text())
    return [
        (language, body)
        for language, body in SNIPPET.findall(text)
        if language in ("python", "toml")
    ]


def test_contributing_has_code_snippets() -> None:
    assert len(contributing_snippets()) >= 8


def test_every_example_snippet_shows_its_imports() -> None:
    for language, body in contributing_snippets():
        if language == "python" and "import" in body.replace("from __future__", ""):
            continue
        assert language == "toml" or body.startswith('"""'), body.split("\n")[0]


def found_in_order(body: str, text: str) -> bool:
    """Each part of ``body`` between ``# ...`` lines is in ``text``, in that order."""
    position = 0
    for part in ELISION.split(body):
        part = part.strip("\n")  # blank lines around `# ...` are the formatter's
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


@pytest.mark.parametrize(
    "body", [body for _, body in contributing_snippets()], ids=lambda body: body.split("\n")[0]
)
def test_every_snippet_is_copied_from_the_example_plugin(body: str) -> None:
    sources = [path.read_text() for path in EXAMPLE.rglob("*") if path.suffix in (".py", ".toml")]
    assert any(found_in_order(body, text) for text in sources), (
        f"this snippet of CONTRIBUTING.md is not in examples/plugin-hello:\n{body}"
    )
