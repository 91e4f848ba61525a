"""newsrag: question answering over a news archive with verified, passage-level citations.

``from rag import Archive`` is the whole API for most uses; see :class:`rag.archive.Archive`.
"""
from rag.archive import Archive
from rag.settings import Settings
from rag.types import Answer, Article, Chunk, Hit, IngestReport, Sentence, Source

__all__ = ["Archive", "Settings", "Answer", "Article", "Chunk", "Hit", "IngestReport", "Sentence", "Source"]
__version__ = "0.1.0"
