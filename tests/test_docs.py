"""The README documents every setting (datasette's ``tests/test_docs.py`` is the model).

Walks ``Settings`` (nested groups included), derives each setting's environment
variable with ``env_var_name`` and looks for it in the first column of the
README's Configuration table, where ``_S3_BUCKET`` after a full name is short for
``COMMARCHIVE_S3_BUCKET``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from commarchive.settings import ENV_PREFIX, Settings, env_var_name

README = Path(__file__).resolve().parent.parent / "README.md"


def setting_paths(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from setting_paths(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def documented_variables() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        for token in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if token.startswith(ENV_PREFIX):
                names.add(token)
            elif token.startswith("_"):
                names.add(ENV_PREFIX + token[1:])
    return names


def test_the_walk_sees_nested_settings() -> None:
    paths = set(setting_paths())
    assert {"data_dir", "smtp.max_concurrent", "sip.session_expires_seconds",
            "transcribe.vosk_model"} <= paths
    assert "smtp" not in paths


@pytest.mark.parametrize("path", sorted(setting_paths()))
def test_every_setting_is_in_the_readme_table(path: str) -> None:
    variable = env_var_name(path)
    assert variable in documented_variables(), (
        f"README.md's Configuration table does not list {variable} (setting {path})")
