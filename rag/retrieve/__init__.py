"""Retrieval: the query plan, candidates from BM25 and dense search, the learned rerank, diversity and syndication."""
