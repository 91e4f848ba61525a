"""Prompt templates kept as Markdown files under ``prompts/<name>.md``.

File convention: placeholders are ``$name`` (:class:`string.Template`; write ``$$`` for a
literal dollar sign). A file may be split by the headings ``## system`` and ``## user`` (each
on its own line, case-insensitive): the text under them is the system and the user message;
anything before the first heading is a note for prompt authors and is not sent. A file without
a ``## user`` heading is entirely the user message (no system message).

Files are looked up first in the repository's top-level ``prompts/`` directory, then where the
package installs them (``rag/prompt_files/``, the ``rag.prompt_files`` resources).
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from rag.errors import PromptError

_NAME = re.compile(r"^[a-z_]+$")
_HEADING = re.compile(r"^##[ \t]+(system|user)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def _variables(template: str | None, where: str) -> frozenset[str]:
    if template is None:
        return frozenset()
    t = string.Template(template)
    if not t.is_valid():
        raise PromptError(f"prompt {where}: invalid $placeholder (write $$ for a literal $)")
    return frozenset(t.get_identifiers())


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt: ``system`` (or None) and ``user`` template texts and their variables."""

    name: str
    user: str
    system: str | None = None

    @property
    def variables(self) -> frozenset[str]:
        """Names of the ``$placeholders`` in the system and user templates."""
        return _variables(self.system, self.name) | _variables(self.user, self.name)

    def _check(self, values: dict[str, object]) -> None:
        got, want = set(values), set(self.variables)
        if got != want:
            parts = []
            if want - got:
                parts.append("missing " + ", ".join(sorted(want - got)))
            if got - want:
                parts.append("unexpected " + ", ".join(sorted(got - want)))
            raise PromptError(f"prompt {self.name!r}: {'; '.join(parts)}")

    def messages(self, **values: object) -> tuple[str | None, str]:
        """Render ``(system, user)``; raises PromptError unless the keys equal ``variables``."""
        self._check(values)
        vals = {k: str(v) for k, v in values.items()}
        system = string.Template(self.system).substitute(vals).strip() if self.system else None
        return system, string.Template(self.user).substitute(vals).strip()

    def render(self, **values: object) -> str:
        """Render the user message; raises PromptError unless the keys equal ``variables``."""
        return self.messages(**values)[1]


def _read(name: str) -> str:
    file = f"{name}.md"
    checkout = Path(__file__).resolve().parents[2] / "prompts"  # rag/answer/prompts.py -> <repo>/prompts
    for d in (checkout,):
        if (d / file).is_file():
            return (d / file).read_text(encoding="utf-8")
    try:
        from importlib.resources import files

        res = files("rag.prompt_files") / file
        if res.is_file():
            return res.read_text(encoding="utf-8")
    except (TypeError, ModuleNotFoundError, OSError):
        pass
    raise PromptError(f"prompt {name!r} not found (looked for prompts/{file})")


def parse_prompt(name: str, text: str) -> Prompt:
    """Build a :class:`Prompt` from file text using the ``## system`` / ``## user`` convention."""
    parts = _HEADING.split(text)
    if len(parts) == 1:
        prompt = Prompt(name=name, user=text.strip())
    else:
        sections: dict[str, str] = {}
        for head, body in zip(parts[1::2], parts[2::2]):
            sections.setdefault(head.lower(), body.strip())
        if "user" not in sections:
            raise PromptError(f"prompt {name!r}: has '## system' but no '## user' section")
        prompt = Prompt(name=name, user=sections["user"], system=sections.get("system") or None)
    prompt.variables  # validate placeholders now
    return prompt


def load_prompt(name: str) -> Prompt:
    """Load ``prompts/<name>.md``; ``name`` must match ``[a-z_]+``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise PromptError(f"bad prompt name {name!r}: use lowercase letters and underscores")
    return parse_prompt(name, _read(name))
