"""Domain errors. The CLI turns every :class:`RagError` into one line and an exit code."""
from __future__ import annotations


class RagError(Exception):
    """Base class of every error newsrag raises on purpose."""

    exit_code = 1


class BadInput(RagError):
    """Input that cannot be read: names the file and, where known, the line or record."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")
        self.reason = message


class IndexMismatch(RagError):
    """The index was built with a different embedding model, dimension or format."""

    exit_code = 3


class IndexMissing(RagError):
    """No index exists at the given path."""

    exit_code = 3


class BackendUnavailable(RagError):
    """A configured backend (LLM endpoint, chroma server, optional package) cannot be used."""

    exit_code = 4


class PromptError(RagError):
    """A prompt template is missing or its variables do not match what the code supplies."""

    exit_code = 5
