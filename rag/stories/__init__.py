"""Views over several articles: a story's timeline and its outlets side by side."""
